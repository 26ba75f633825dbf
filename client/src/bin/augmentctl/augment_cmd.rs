//! `augmentctl augment`: image files, sent as `u8` NHWC batches of same-sized images over one
//! AugmentStream call while the next batches load, become `<stem>-aug<k>.png` files; an
//! `.npy` array becomes `augmented.npy`. With `--params`, `params.json` records each output's
//! transformation parameters.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use augmentd_client::{
    image_info, list_image_files, AugmentOptions, Augmented, Client, ClientError, ImageBatch,
    ImageInfo, Sampling,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Map, Value};
use tokio_stream::StreamExt;

use crate::cli::AugmentArgs;

/// Runs `augmentctl augment`.
pub async fn run(client: &Client, args: AugmentArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let options = AugmentOptions {
        seed: args.seed,
        copies: args.copies,
        return_params: args.params,
        sampling: if args.eval {
            Sampling::Eval
        } else {
            Sampling::Train
        },
        standardized: args.standardized,
        learned_only: args.learned_only,
    };
    let is_npy = args
        .input
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    if is_npy {
        augment_npy(client, &args, &options).await
    } else {
        if args.layout.is_some() || args.standardized {
            bail!("--layout and --standardized apply to .npy input only");
        }
        augment_images(client, &args, &options).await
    }
}

/// The files of each request: same-sized files grouped (in order of first appearance), at
/// most `max` per request.
fn plan_batches(files: &[PathBuf], max: usize) -> Result<Vec<Vec<PathBuf>>, ClientError> {
    let mut groups: Vec<(ImageInfo, Vec<PathBuf>)> = Vec::new();
    let mut index: HashMap<ImageInfo, usize> = HashMap::new();
    for file in files {
        let info = image_info(file)?;
        let slot = *index.entry(info).or_insert_with(|| {
            groups.push((info, Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push(file.clone());
    }
    Ok(groups
        .into_iter()
        .flat_map(|(_, group)| {
            group
                .chunks(max)
                .map(<[PathBuf]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect())
}

/// The output name stem of each input file; two inputs with the same stem are refused.
fn stems(files: &[PathBuf]) -> anyhow::Result<HashMap<PathBuf, String>> {
    let mut seen: HashMap<String, &PathBuf> = HashMap::new();
    let mut out = HashMap::new();
    for file in files {
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(other) = seen.insert(stem.clone(), file) {
            bail!(
                "{} and {} would both be written as {stem}-aug<k>.png",
                other.display(),
                file.display()
            );
        }
        out.insert(file.clone(), stem);
    }
    Ok(out)
}

fn bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template = format!("[{{bar:30}}] {{pos}}/{{len}} {what}  {{msg}}  ETA {{eta}}");
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

/// A JSON object of one output row's parameters (by name), or null without parameters.
fn params_json(result: &Augmented, row: usize) -> Value {
    match result.params_row(row) {
        Some(values) => Value::Object(
            result
                .param_names
                .iter()
                .zip(values)
                .map(|(name, &v)| (name.clone(), json!(v)))
                .collect::<Map<String, Value>>(),
        ),
        None => Value::Null,
    }
}

fn write_params(out: &Path, outputs: Vec<Value>) -> anyhow::Result<()> {
    let path = out.join("params.json");
    let text = serde_json::to_string_pretty(&json!({ "outputs": outputs }))?;
    std::fs::write(&path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

fn seeds_text(seeds: &[u64], seeded: bool) -> String {
    match (seeds, seeded) {
        ([one], _) => format!(" (seed {one})"),
        ([first, .., last], true) => format!(" (seeds {first}..={last})"),
        _ => String::new(),
    }
}

async fn augment_images(
    client: &Client,
    args: &AugmentArgs,
    options: &AugmentOptions,
) -> anyhow::Result<ExitCode> {
    let files = list_image_files(&args.input)?;
    if files.is_empty() {
        bail!(
            "{}: no image files (png, jpg, jpeg, tif, tiff)",
            args.input.display()
        );
    }
    let stems = stems(&files)?;
    let plan = plan_batches(&files, args.batch as usize)?;

    // Batches load on a thread while earlier ones are augmented; a load error stops the
    // requests and is reported once the responses to earlier batches are written.
    let (tx, rx) = tokio::sync::mpsc::channel::<ImageBatch>(2);
    let to_load = plan.clone();
    let loader = std::thread::spawn(move || -> Result<(), ClientError> {
        for files in &to_load {
            let batch = ImageBatch::from_image_files(files)?;
            if tx.blocking_send(batch).is_err() {
                break; // the call ended early: its error is reported by the caller
            }
        }
        Ok(())
    });
    let mut results = client
        .augment_stream(
            &args.model,
            options,
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )
        .await?;

    let progress = bar(files.len() as u64, "images");
    let copies = options.copies.max(1) as usize;
    let (mut outputs, mut seeds, mut written, mut model) = (Vec::new(), Vec::new(), 0, None);
    let mut batches = plan.iter();
    let mut failure: Option<ClientError> = None;
    while let Some(result) = results.next().await {
        let result = match result {
            Ok(r) => r,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let Some(inputs) = batches.next() else {
            bail!("the server answered more batches than were sent");
        };
        if result.batch.images() != inputs.len() * copies {
            bail!(
                "the server returned {} images for {} inputs x {copies} copies",
                result.batch.images(),
                inputs.len()
            );
        }
        for row in 0..result.batch.images() {
            let source = &inputs[row / copies];
            let name = format!("{}-aug{}.png", stems[source], row % copies);
            result.batch.save_png(row, &args.out.join(&name))?;
            written += 1;
            if args.params {
                outputs.push(json!({
                    "file": name,
                    "source": source.display().to_string(),
                    "copy": row % copies,
                    "model": result.model_ref(),
                    "seed": result.seed,
                    "params": params_json(&result, row),
                }));
            }
        }
        progress.inc(inputs.len() as u64);
        progress.set_message(result.model_ref());
        seeds.push(result.seed);
        model = Some(result.model_ref());
    }
    progress.finish_and_clear();
    drop(results);
    let loaded = loader
        .join()
        .map_err(|_| anyhow::anyhow!("the image loading thread panicked"))?;
    if args.params && !outputs.is_empty() {
        write_params(&args.out, outputs)?;
    }
    if let Some(e) = failure {
        return Err(e.into());
    }
    loaded?;
    let done = plan.len() - batches.len();
    if done != plan.len() {
        bail!("the stream ended after {done} of {} batches", plan.len());
    }
    println!(
        "augmented {} images into {written} in {} with {}{}",
        files.len(),
        args.out.display(),
        model.unwrap_or_default(),
        seeds_text(&seeds, options.seed.is_some())
    );
    Ok(ExitCode::SUCCESS)
}

async fn augment_npy(
    client: &Client,
    args: &AugmentArgs,
    options: &AugmentOptions,
) -> anyhow::Result<ExitCode> {
    let input = ImageBatch::read_npy(&args.input, args.layout.map(Into::into))?;
    let n = input.images();
    let max = args.batch as usize;
    let chunks = (0..n)
        .step_by(max)
        .map(|start| input.slice_images(start, (start + max).min(n)))
        .collect::<Result<Vec<_>, _>>()?;
    let sizes: Vec<usize> = chunks.iter().map(ImageBatch::images).collect();
    drop(input);
    let progress = bar(n as u64, "images");
    let mut results = client
        .augment_stream(&args.model, options, tokio_stream::iter(chunks))
        .await?;
    let copies = options.copies.max(1) as usize;
    let (mut parts, mut outputs, mut seeds, mut model) = (Vec::new(), Vec::new(), Vec::new(), None);
    let mut first_image = 0;
    while let Some(result) = results.next().await {
        let result = result?;
        let k = parts.len();
        let Some(&size) = sizes.get(k) else {
            bail!("the server answered more batches than were sent");
        };
        if result.batch.images() != size * copies {
            bail!(
                "the server returned {} images for {size} inputs x {copies} copies",
                result.batch.images()
            );
        }
        if args.params {
            for row in 0..result.batch.images() {
                outputs.push(json!({
                    "index": (first_image * copies) + row,
                    "source_index": first_image + row / copies,
                    "copy": row % copies,
                    "model": result.model_ref(),
                    "seed": result.seed,
                    "params": params_json(&result, row),
                }));
            }
        }
        first_image += size;
        progress.inc(size as u64);
        seeds.push(result.seed);
        model = Some(result.model_ref());
        parts.push(result.batch);
    }
    progress.finish_and_clear();
    if parts.len() != sizes.len() {
        bail!(
            "the stream ended after {} of {} batches",
            parts.len(),
            sizes.len()
        );
    }
    let out = ImageBatch::concat(&parts)?;
    let path = args.out.join("augmented.npy");
    out.write_npy(&path)?;
    if args.params {
        write_params(&args.out, outputs)?;
    }
    println!(
        "augmented {n} images into {} ({} {:?} {}) with {}{}",
        path.display(),
        out.dtype(),
        out.shape(),
        out.layout(),
        model.unwrap_or_default(),
        seeds_text(&seeds, options.seed.is_some())
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;

    #[test]
    fn batches_group_same_sized_files_and_respect_the_limit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut files = Vec::new();
        for (i, w) in [4u32, 8, 4, 4, 8].into_iter().enumerate() {
            let p = dir.path().join(format!("{i}.png"));
            RgbImage::new(w, 4).save(&p).expect("save");
            files.push(p);
        }
        let plan = plan_batches(&files, 2).expect("plan");
        let names: Vec<Vec<String>> = plan
            .iter()
            .map(|b| {
                b.iter()
                    .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
                    .collect()
            })
            .collect();
        assert_eq!(
            names,
            [
                vec!["0.png", "2.png"],
                vec!["3.png"],
                vec!["1.png", "4.png"]
            ]
        );
    }

    #[test]
    fn clashing_stems_are_refused() {
        let files = [PathBuf::from("a/x.png"), PathBuf::from("b/x.jpg")];
        let err = stems(&files).expect_err("clash");
        assert!(err.to_string().contains("x-aug<k>.png"), "{err}");
    }

    #[test]
    fn seed_summaries() {
        assert_eq!(seeds_text(&[5], false), " (seed 5)");
        assert_eq!(seeds_text(&[5, 6, 7], true), " (seeds 5..=7)");
        assert_eq!(seeds_text(&[5, 9], false), "");
    }
}
