#!/usr/bin/env python3
"""Lists the import circles between the Rust files of a source tree (default: service/src).

Each file is a node; `use super::x` and `use crate::a::b` (the longest prefix that is a file or
folder) are its edges; test modules (after `#[cfg(test)]`) are left out. Prints the strongly
connected components of more than one file, or "none". A text-level check, not the compiler's:
run it after moving code between files.

    python3 scripts/import-cycles.py [service/src]
"""
import os,re,sys
os.chdir(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "service", "src"))
graph={}
for root,dirs,files in os.walk('.'):
    for f in files:
        if not f.endswith('.rs'): continue
        p=os.path.join(root,f)[2:]
        name=p[:-3]
        if name.endswith('/mod'): name=name[:-4]
        s=open(p).read().split('#[cfg(test)]')[0]
        deps=set()
        for m in re.finditer(r'\bsuper::([a-z_]+)',s):
            deps.add((os.path.dirname(name)+'/' if os.path.dirname(name) else '')+m.group(1))
        for m in re.finditer(r'\bcrate::([a-z_]+(?:::[a-z_]+)*)',s):
            parts=m.group(1).split('::')
            for k in range(len(parts),0,-1):
                cand='/'.join(parts[:k])
                if os.path.exists(cand+'.rs') or os.path.exists(cand+'/mod.rs'):
                    deps.add(cand); break
        deps.discard(name); graph[name]=deps
index={};low={};st=[];on=set();res=[];i=[0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v]=low[v]=i[0];i[0]+=1;st.append(v);on.add(v)
    for w in graph.get(v,()):
        if w not in graph: continue
        if w not in index: sc(w); low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],index[w])
    if low[v]==index[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: res.append(comp)
for v in graph:
    if v not in index: sc(v)
print("cycles:", [sorted(c) for c in res] or "none")
