//! `augmentd augment`: applies a trained augmenter to image files (PNG, JPEG, TIFF; a file or
//! a folder of them) and writes each augmented copy as PNG, with the transformation parameters
//! of every copy as JSON when asked. Sampling is in training mode (dropout on), the
//! distribution the classifier saw during training (see ALGORITHM.md).
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use augmentd::data::IMAGE_EXTENSIONS;
use augmentd::device::DeviceSpec;
use augmentd::model::{augment_on_base, augment_standardized, load_model, Model};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tch::{Device, Kind, Tensor};

/// Flags of `augmentd augment`.
#[derive(clap::Args)]
pub struct AugmentArgs {
    /// The trained augmenter: `model.safetensors` of a run (or the run directory).
    #[arg(long, env = "AUGMENTD_MODEL")]
    model: PathBuf,
    /// An image file or a folder of images.
    #[arg(long, env = "AUGMENTD_INPUT")]
    input: PathBuf,
    /// Where the PNGs go (created if needed).
    #[arg(long, env = "AUGMENTD_OUT")]
    out: PathBuf,
    /// Seed of the augmentation noise.
    #[arg(long, env = "AUGMENTD_SEED", default_value_t = 0)]
    seed: u64,
    /// Augmented copies per image.
    #[arg(long, env = "AUGMENTD_COPIES", default_value_t = 1)]
    copies: usize,
    /// Also write `params.json`: the transformation parameters of every copy.
    #[arg(long, env = "AUGMENTD_PARAMS")]
    params: bool,
    /// Apply the learned transform only, not the hand-crafted base the model was learned on
    /// top of (recorded in its `model.json`), which is applied first by default.
    #[arg(long, env = "AUGMENTD_LEARNED_ONLY")]
    learned_only: bool,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, env = "AUGMENTD_DEVICE", default_value = "cpu")]
    device: String,
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn inputs(input: &Path) -> Result<Vec<PathBuf>> {
    if input.is_file() {
        return Ok(vec![input.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(input)
        .with_context(|| format!("cannot read {}", input.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_image(p))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{}: no PNG, JPEG or TIFF image in it", input.display());
    }
    Ok(files)
}

/// The image as a standardized [1, C, H, W] tensor with the model's channel count.
fn load_image(path: &Path, model: &Model) -> Result<Tensor> {
    let decoded = image::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let channels = model.info.shape.channels;
    let (pixels, width, height) = if channels == 1 {
        let img = decoded.to_luma8();
        (img.as_raw().clone(), img.width(), img.height())
    } else {
        let img = decoded.to_rgb8();
        (img.as_raw().clone(), img.width(), img.height())
    };
    let hwc = Tensor::from_slice(&pixels).view([height as i64, width as i64, channels as i64]);
    let unit = hwc.permute([2, 0, 1]).unsqueeze(0).to_kind(Kind::Float) / 255.0;
    Ok(model.info.normalization.standardize(&unit)?)
}

/// Writes one standardized image [C, H, W] as an 8-bit PNG.
fn save_png(path: &Path, standardized: &Tensor, model: &Model) -> Result<()> {
    let c = model.info.shape.channels;
    let unit = model
        .info
        .normalization
        .unstandardize(&standardized.to_device(Device::Cpu).unsqueeze(0))?
        .squeeze_dim(0)
        .clamp(0.0, 1.0);
    let bytes = (unit * 255.0)
        .round()
        .to_kind(Kind::Uint8)
        .permute([1, 2, 0])
        .contiguous();
    let (height, width) = (bytes.size()[0] as u32, bytes.size()[1] as u32);
    let raw = Vec::<u8>::try_from(bytes.flatten(0, -1))?;
    let color = if c == 1 {
        image::ExtendedColorType::L8
    } else {
        image::ExtendedColorType::Rgb8
    };
    image::save_buffer(path, &raw, width, height, color)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Runs `augmentd augment`.
pub fn run(args: AugmentArgs) -> Result<()> {
    if args.copies == 0 {
        bail!("--copies must be at least 1");
    }
    let device = args.device.parse::<DeviceSpec>()?.resolve()?;
    let model = load_model(&args.model, device)?;
    let files = inputs(&args.input)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let names = model.augmenter.transform_names();
    let mut params = Vec::new();
    for file in &files {
        let image = load_image(file, &model)?.to_device(device);
        let augment = if args.learned_only {
            augment_standardized
        } else {
            augment_on_base
        };
        let augmented = augment(&model, &image, args.copies, &mut rng, true)?;
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
        for copy in 0..args.copies {
            let out = args.out.join(format!("{stem}-aug{copy}.png"));
            save_png(&out, &augmented.images.get(copy as i64), &model)?;
            let values =
                Vec::<f64>::try_from(augmented.transform.get(copy as i64).to_kind(Kind::Double))?;
            let named: serde_json::Map<String, serde_json::Value> = names
                .iter()
                .zip(values)
                .map(|(n, v)| ((*n).to_string(), serde_json::json!(v)))
                .collect();
            params.push(serde_json::json!({
                "input": file.display().to_string(),
                "output": out.display().to_string(),
                "transform": named,
            }));
        }
    }
    if args.params {
        let path = args.out.join("params.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&params)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "{} image(s) × {} copies → {}",
        files.len(),
        args.copies,
        args.out.display()
    );
    Ok(())
}
