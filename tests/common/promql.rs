//! The metric names a PromQL expression reads, and the series names an exposition exports: what
//! tests/prometheus_stack.rs compares to prove dashboards and rules name only real metrics.
//!
//! The extraction is lexical, not a parser: strings, label matchers `{...}`, ranges `[...]`,
//! grouping lists (`by`, `without`, `on`, `ignoring`, `group_left`, `group_right`), Grafana
//! variables (`$__rate_interval`, `${datasource}`), numbers and durations are removed; of the
//! identifiers left, function calls (followed by `(`) and keywords are dropped. Every other
//! identifier is a metric name (names with `:` are recording rules).

use std::collections::BTreeSet;

/// Words of PromQL that are not metric names when not followed by `(`.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
];

/// Keywords followed by a parenthesised label list, which holds label names, not metrics.
const LABEL_LIST_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names `expr` reads, in order of first appearance, without duplicates.
pub fn metric_names(expr: &str) -> Vec<String> {
    let tokens = tokens(&strip_enclosed(&strip_strings(expr)));
    let mut names = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Word(word) => {
                let lower = word.to_ascii_lowercase();
                let called = next_is_call(&tokens, i);
                if LABEL_LIST_KEYWORDS.contains(&lower.as_str()) && called {
                    // Skip `by (a, b)`: the list up to its closing parenthesis.
                    i = skip_group(&tokens, i + 1);
                    continue;
                }
                if !called && !KEYWORDS.contains(&lower.as_str()) && !names.contains(word) {
                    names.push(word.clone());
                }
            }
            Token::Punct(_) | Token::Other => {}
        }
        i += 1;
    }
    names
}

/// The series names `exposition` (Prometheus text format) exports, from its `# TYPE` lines: a
/// counter, gauge or untyped family's name; a histogram's `_bucket`, `_sum` and `_count`; a
/// summary's name, `_sum` and `_count`.
pub fn exported_series(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        let mut words = line.split_whitespace();
        if (words.next(), words.next()) != (Some("#"), Some("TYPE")) {
            continue;
        }
        let (Some(family), Some(kind)) = (words.next(), words.next()) else {
            continue;
        };
        let suffixes: &[&str] = match kind {
            "histogram" => &["_bucket", "_sum", "_count"],
            "summary" => &["", "_sum", "_count"],
            _ => &[""],
        };
        names.extend(suffixes.iter().map(|s| format!("{family}{s}")));
    }
    names
}

/// The names of `expr` that are neither exported series nor `recorded` recording rules.
pub fn unknown_names(
    expr: &str,
    exported: &BTreeSet<String>,
    recorded: &BTreeSet<String>,
) -> Vec<String> {
    metric_names(expr)
        .into_iter()
        .filter(|name| {
            if name.contains(':') {
                !recorded.contains(name)
            } else {
                !exported.contains(name)
            }
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// An identifier: metric name, function, keyword, label name.
    Word(String),
    /// `(`, `)` or `,`.
    Punct(char),
    /// A number, a duration, an operator.
    Other,
}

/// `expr` with its string literals ("...", '...', `...`) blanked out.
fn strip_strings(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut chars = expr.chars();
    while let Some(c) = chars.next() {
        if matches!(c, '"' | '\'' | '`') {
            while let Some(inner) = chars.next() {
                if inner == '\\' && c != '`' {
                    chars.next();
                } else if inner == c {
                    break;
                }
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// `expr` (strings already gone) without `{...}` matchers, `[...]` ranges and `$variables`.
fn strip_enclosed(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut depth = 0_usize;
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            '$' if depth == 0 => {
                // `$name` or `${name}` (Grafana): drop it whole.
                if chars.peek() == Some(&'{') {
                    for inner in chars.by_ref() {
                        if inner == '}' {
                            break;
                        }
                    }
                } else {
                    while chars
                        .next_if(|n| n.is_ascii_alphanumeric() || *n == '_')
                        .is_some()
                    {}
                }
                out.push(' ');
                continue;
            }
            _ if depth == 0 => {
                out.push(c);
                continue;
            }
            _ => {}
        }
        out.push(' ');
    }
    out
}

/// Identifiers, parentheses and commas; numbers (`0.99`, `1e-3`, `0x1f`) and durations
/// (`10m`, `1h30m`) are one `Other` token each, so their letters are not taken for names.
fn tokens(expr: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let mut word = c.to_string();
            while let Some(n) =
                chars.next_if(|n| n.is_ascii_alphanumeric() || *n == '_' || *n == ':')
            {
                word.push(n);
            }
            out.push(Token::Word(word));
        } else if c.is_ascii_digit() || c == '.' {
            let mut previous = c;
            while let Some(n) = chars.next_if(|n| {
                n.is_ascii_alphanumeric()
                    || *n == '.'
                    || (matches!(n, '+' | '-') && matches!(previous, 'e' | 'E'))
            }) {
                previous = n;
            }
            out.push(Token::Other);
        } else if matches!(c, '(' | ')' | ',') {
            out.push(Token::Punct(c));
        } else if !c.is_whitespace() {
            out.push(Token::Other);
        }
    }
    out
}

/// Whether the word at `i` is called: followed by `(`, or (an aggregation such as
/// `sum by (le) (...)`) by a grouping clause and then `(`.
fn next_is_call(tokens: &[Token], i: usize) -> bool {
    let open = Token::Punct('(');
    let mut next = i + 1;
    if let Some(Token::Word(word)) = tokens.get(next) {
        let grouping = ["by", "without"].contains(&word.to_ascii_lowercase().as_str());
        if grouping && tokens.get(next + 1) == Some(&open) {
            next = skip_group(tokens, next + 1);
        }
    }
    tokens.get(next) == Some(&open)
}

/// The index after the parenthesised group opening at `open`.
fn skip_group(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0_usize;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}
