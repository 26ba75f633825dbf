//! Image files and batches: PNG/JPEG/TIFF files become a `u8` NHWC [`ImageBatch`]
//! (greyscale files 1 channel, every other file RGB), and any batch's images become
//! `image` buffers or PNG files.
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageBuffer, ImageReader};

use crate::batch::{DType, ImageBatch, Layout};
use crate::error::ClientError;

/// File extensions read as images (compared without case).
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "tif", "tiff"];

/// True when `path` has one of [`IMAGE_EXTENSIONS`].
pub fn is_image_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Size and channel count of an image file as it goes into a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ImageInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 1 for a greyscale file (with or without alpha), else 3 (RGB; alpha is dropped).
    pub channels: u8,
}

impl ImageInfo {
    /// `32x32 RGB` or `28x28 grey`.
    pub fn describe(&self) -> String {
        let kind = if self.channels == 1 { "grey" } else { "RGB" };
        format!("{}x{} {kind}", self.width, self.height)
    }
}

fn open(path: &Path) -> Result<ImageReader<std::io::BufReader<std::fs::File>>, ClientError> {
    ImageReader::open(path)
        .map_err(|e| ClientError::io(path, e))?
        .with_guessed_format()
        .map_err(|e| ClientError::io(path, e))
}

/// Reads only the header of an image file: its size and batch channel count.
pub fn image_info(path: &Path) -> Result<ImageInfo, ClientError> {
    use image::ImageDecoder;
    let decoder = open(path)?
        .into_decoder()
        .map_err(|e| ClientError::image(path, e))?;
    let (width, height) = decoder.dimensions();
    let channels = if decoder.color_type().has_color() {
        3
    } else {
        1
    };
    Ok(ImageInfo {
        width,
        height,
        channels,
    })
}

/// Decodes an image file to 8-bit pixels, row-major, channels last (1 or 3 channels).
pub fn load_image(path: &Path) -> Result<(ImageInfo, Vec<u8>), ClientError> {
    let img = open(path)?
        .decode()
        .map_err(|e| ClientError::image(path, e))?;
    let (width, height) = (img.width(), img.height());
    let (channels, pixels) = if img.color().has_color() {
        (3, img.into_rgb8().into_raw())
    } else {
        (1, img.into_luma8().into_raw())
    };
    Ok((
        ImageInfo {
            width,
            height,
            channels,
        },
        pixels,
    ))
}

impl ImageBatch {
    /// Loads image files (PNG, JPEG, TIFF) as one `u8` NHWC batch, in the given order. Every
    /// file must have the first one's size and channel count (greyscale: 1, else RGB: 3); the
    /// error names the file that does not.
    pub fn from_image_files<P: AsRef<Path>>(paths: &[P]) -> Result<ImageBatch, ClientError> {
        let Some(first_path) = paths.first() else {
            return Err(ClientError::invalid("no image files"));
        };
        let mut data = Vec::new();
        let mut first: Option<ImageInfo> = None;
        for path in paths {
            let path = path.as_ref();
            let (info, pixels) = load_image(path)?;
            match first {
                None => first = Some(info),
                Some(f) if f != info => {
                    return Err(ClientError::image(
                        path,
                        format!(
                            "is {}, but the batch's first image {} is {}",
                            info.describe(),
                            first_path.as_ref().display(),
                            f.describe()
                        ),
                    ));
                }
                Some(_) => {}
            }
            data.extend_from_slice(&pixels);
        }
        let info = first.ok_or_else(|| ClientError::invalid("no image files"))?;
        ImageBatch::new(
            data,
            DType::U8,
            Layout::Nhwc,
            [
                paths.len(),
                info.height as usize,
                info.width as usize,
                usize::from(info.channels),
            ],
        )
    }

    /// Image `index` as an 8-bit image: 1 channel grey, 2 grey + alpha, 3 RGB, 4 RGBA. Float
    /// values are taken as pixels in 0..1 (clamped, rounded); standardized values must be
    /// unstandardized first.
    pub fn to_image(&self, index: usize) -> Result<DynamicImage, ClientError> {
        if index >= self.images() {
            return Err(ClientError::invalid(format!(
                "image {index} of a batch of {}",
                self.images()
            )));
        }
        let one = self.slice_images(index, index + 1)?.to_layout(Layout::Nhwc);
        let pixels: Vec<u8> = match one.dtype() {
            DType::U8 => one.into_data(),
            DType::F32 | DType::F16 => one
                .to_f32_values()
                .into_iter()
                .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
                .collect(),
        };
        let (w, h) = (self.width() as u32, self.height() as u32);
        let too_big = || ClientError::invalid(format!("{w}x{h} image: buffer size mismatch"));
        Ok(match self.channels() {
            1 => DynamicImage::ImageLuma8(ImageBuffer::from_raw(w, h, pixels).ok_or_else(too_big)?),
            2 => {
                DynamicImage::ImageLumaA8(ImageBuffer::from_raw(w, h, pixels).ok_or_else(too_big)?)
            }
            3 => DynamicImage::ImageRgb8(ImageBuffer::from_raw(w, h, pixels).ok_or_else(too_big)?),
            4 => DynamicImage::ImageRgba8(ImageBuffer::from_raw(w, h, pixels).ok_or_else(too_big)?),
            c => {
                return Err(ClientError::invalid(format!(
                    "{c} channels cannot be saved as an image (1 to 4 can)"
                )))
            }
        })
    }

    /// Writes image `index` as a PNG file (see [`ImageBatch::to_image`]).
    pub fn save_png(&self, index: usize, path: &Path) -> Result<(), ClientError> {
        self.to_image(index)?
            .save_with_format(path, image::ImageFormat::Png)
            .map_err(|e| ClientError::image(path, e))
    }
}

/// The image files of a folder (by [`is_image_file`]), sorted by name; a file path is
/// returned as it is.
pub fn list_image_files(path: &Path) -> Result<Vec<PathBuf>, ClientError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| ClientError::io(path, e))? {
        let entry = entry.map_err(|e| ClientError::io(path, e))?;
        let p = entry.path();
        if p.is_file() && is_image_file(&p) {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, RgbImage, Rgba, RgbaImage};

    fn rgb(w: u32, h: u32, seed: u8) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([
                seed.wrapping_add(x as u8),
                seed.wrapping_mul(3).wrapping_add(y as u8),
                (x * y) as u8,
            ])
        })
    }

    #[test]
    fn files_to_batch_to_png_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = rgb(6, 4, 10);
        let b = rgb(6, 4, 99);
        let pa = dir.path().join("a.png");
        let pb = dir.path().join("b.tiff");
        a.save(&pa).expect("save a");
        b.save(&pb).expect("save b");
        let batch = ImageBatch::from_image_files(&[&pa, &pb]).expect("batch");
        assert_eq!(batch.shape(), [2, 4, 6, 3]);
        assert_eq!((batch.dtype(), batch.layout()), (DType::U8, Layout::Nhwc));
        assert_eq!(&batch.data()[..72], a.as_raw().as_slice());

        let out = dir.path().join("b-out.png");
        batch.save_png(1, &out).expect("save png");
        let back = image::open(&out).expect("open").into_rgb8();
        assert_eq!(back, b);

        // The same pixels as NCHW float32 in 0..1 come back to the same PNG.
        let f = batch
            .to_array::<u8>()
            .expect("array")
            .mapv(|v| f32::from(v) / 255.0);
        let fb = ImageBatch::from_array(&f.view().permuted_axes([0, 3, 1, 2]), Layout::Nchw)
            .expect("float batch");
        let out2 = dir.path().join("b-float.png");
        fb.save_png(1, &out2).expect("save float png");
        assert_eq!(image::open(&out2).expect("open").into_rgb8(), b);
    }

    #[test]
    fn greyscale_files_have_one_channel_and_alpha_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let g = GrayImage::from_fn(3, 5, |x, y| image::Luma([(x * 40 + y) as u8]));
        let pg = dir.path().join("g.png");
        g.save(&pg).expect("save");
        let batch = ImageBatch::from_image_files(&[&pg]).expect("batch");
        assert_eq!(batch.shape(), [1, 5, 3, 1]);
        let out = dir.path().join("g-out.png");
        batch.save_png(0, &out).expect("save");
        assert_eq!(image::open(&out).expect("open").into_luma8(), g);

        let rgba = RgbaImage::from_pixel(2, 2, Rgba([1, 2, 3, 4]));
        let pr = dir.path().join("r.png");
        rgba.save(&pr).expect("save");
        assert_eq!(
            image_info(&pr).expect("info"),
            ImageInfo {
                width: 2,
                height: 2,
                channels: 3
            }
        );
        let batch = ImageBatch::from_image_files(&[&pr]).expect("batch");
        assert_eq!(batch.data(), &[1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn mismatched_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pa = dir.path().join("a.png");
        let pb = dir.path().join("b.png");
        rgb(4, 4, 0).save(&pa).expect("save");
        rgb(8, 4, 0).save(&pb).expect("save");
        let err = ImageBatch::from_image_files(&[&pa, &pb]).expect_err("sizes differ");
        let text = err.to_string();
        assert!(text.starts_with(&pb.display().to_string()), "{text}");
        assert!(
            text.contains("is 8x4 RGB, but the batch's first image"),
            "{text}"
        );

        let pg = dir.path().join("g.png");
        GrayImage::new(4, 4).save(&pg).expect("save");
        let err = ImageBatch::from_image_files(&[&pa, &pg]).expect_err("channels differ");
        assert!(err.to_string().contains("4x4 grey"), "{err}");

        let junk = dir.path().join("junk.png");
        std::fs::write(&junk, b"not a png").expect("write");
        let err = ImageBatch::from_image_files(&[&junk]).expect_err("junk");
        assert!(
            err.to_string().starts_with(&junk.display().to_string()),
            "{err}"
        );

        let missing = dir.path().join("missing.png");
        let err = ImageBatch::from_image_files(&[&missing]).expect_err("missing");
        assert!(matches!(err, ClientError::Io { .. }), "{err}");
    }

    #[test]
    fn folders_list_images_sorted_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["b.PNG", "a.jpg", "c.txt", "d.tif"] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        let names: Vec<String> = list_image_files(dir.path())
            .expect("list")
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.jpg", "b.PNG", "d.tif"]);
    }
}
