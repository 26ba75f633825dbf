//! Image batches as they travel: raw little-endian bytes with a dtype, a layout and a shape
//! (no per-pixel protobuf). Checking a batch is plain Rust, done before it is queued; turning
//! it into a tensor and back is tensor work, done on an engine thread only.
use tch::{Device, Kind, Tensor};

use crate::data::Normalization;

use super::error::EngineError;

/// Element type of a batch's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelType {
    /// 8-bit pixels, 0..255.
    Uint8,
    /// f32: pixels in 0..1, or standardized values.
    Float32,
    /// f16, as Float32.
    Float16,
}

impl PixelType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::Uint8 => 1,
            Self::Float16 => 2,
            Self::Float32 => 4,
        }
    }

    fn kind(self) -> Kind {
        match self {
            Self::Uint8 => Kind::Uint8,
            Self::Float16 => Kind::Half,
            Self::Float32 => Kind::Float,
        }
    }

    fn is_float(self) -> bool {
        self != Self::Uint8
    }
}

/// Order of a batch's dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// [images, channels, height, width].
    Nchw,
    /// [images, height, width, channels].
    Nhwc,
}

/// The smallest and largest image side accepted.
pub const SIDE_RANGE: (usize, usize) = (4, 4096);

/// Sizes of one batch, whatever its layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchDims {
    /// Images.
    pub images: usize,
    /// Channels.
    pub channels: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
}

/// A checked batch: its bytes match its shape and dtype.
#[derive(Debug, Clone)]
pub struct RawBatch {
    data: Vec<u8>,
    dtype: PixelType,
    layout: Layout,
    dims: BatchDims,
    standardized: bool,
}

impl RawBatch {
    /// Checks `data` against `shape` (in `layout` order) and `dtype`.
    pub fn new(
        data: Vec<u8>,
        dtype: PixelType,
        layout: Layout,
        shape: &[i64],
        standardized: bool,
    ) -> Result<Self, EngineError> {
        let names = match layout {
            Layout::Nchw => "[images, channels, height, width]",
            Layout::Nhwc => "[images, height, width, channels]",
        };
        if shape.len() != 4 {
            return Err(EngineError::invalid(
                "shape",
                format!("{} dimensions given, expected 4: {names}", shape.len()),
            ));
        }
        if let Some(bad) = shape.iter().position(|&d| d <= 0) {
            return Err(EngineError::invalid(
                "shape",
                format!(
                    "dimension {bad} is {}, every dimension of {names} must be positive",
                    shape[bad]
                ),
            ));
        }
        let s: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        let dims = match layout {
            Layout::Nchw => BatchDims {
                images: s[0],
                channels: s[1],
                height: s[2],
                width: s[3],
            },
            Layout::Nhwc => BatchDims {
                images: s[0],
                height: s[1],
                width: s[2],
                channels: s[3],
            },
        };
        let expected = s
            .iter()
            .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| EngineError::invalid("shape", format!("{shape:?} is too large")))?;
        if data.len() != expected {
            return Err(EngineError::invalid(
                "data",
                format!(
                    "{} bytes given, expected {expected} (shape {shape:?} × {} byte(s) per {dtype:?} element)",
                    data.len(),
                    dtype.size()
                ),
            ));
        }
        if standardized && !dtype.is_float() {
            return Err(EngineError::invalid(
                "standardized",
                "only float batches can be standardized; uint8 pixels are 0..255",
            ));
        }
        Ok(Self {
            data,
            dtype,
            layout,
            dims,
            standardized,
        })
    }

    /// Its sizes.
    pub fn dims(&self) -> BatchDims {
        self.dims
    }

    /// Its element type.
    pub fn dtype(&self) -> PixelType {
        self.dtype
    }

    /// Its layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Whether float data is standardized.
    pub fn standardized(&self) -> bool {
        self.standardized
    }

    /// The shape in layout order.
    pub fn shape(&self) -> Vec<i64> {
        let d = self.dims;
        let s = match self.layout {
            Layout::Nchw => [d.images, d.channels, d.height, d.width],
            Layout::Nhwc => [d.images, d.height, d.width, d.channels],
        };
        s.iter().map(|&v| v as i64).collect()
    }

    /// The bytes.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// Checks the batch against what a model takes and the server allows.
    pub fn check_for(
        &self,
        channels: usize,
        max_images: usize,
        copies: usize,
    ) -> Result<(), EngineError> {
        let d = self.dims;
        let channel_dim = match self.layout {
            Layout::Nchw => 1,
            Layout::Nhwc => 3,
        };
        if d.channels != channels {
            return Err(EngineError::invalid(
                "shape",
                format!(
                    "{} channels (dimension {channel_dim} in this layout), the model takes {channels}",
                    d.channels
                ),
            ));
        }
        for (name, side) in [("height", d.height), ("width", d.width)] {
            if side < SIDE_RANGE.0 || side > SIDE_RANGE.1 {
                return Err(EngineError::invalid(
                    "shape",
                    format!(
                        "{name} {side} is outside {}..={}",
                        SIDE_RANGE.0, SIDE_RANGE.1
                    ),
                ));
            }
        }
        let out = d.images.saturating_mul(copies);
        if out > max_images {
            return Err(EngineError::invalid(
                "shape",
                format!(
                    "{} images × {copies} copies = {out} output images, the server allows at most {max_images} per request: split the batch or stream it",
                    d.images
                ),
            ));
        }
        Ok(())
    }

    /// The batch as a standardized float tensor [N, C, H, W] on `device`. Float input must be
    /// finite.
    pub fn to_standardized(
        &self,
        normalization: &Normalization,
        device: Device,
    ) -> Result<Tensor, EngineError> {
        let torch = |e: tch::TchError| EngineError::Torch(e.into());
        let raw = Tensor::f_from_data_size(&self.data, &self.shape(), self.dtype.kind())
            .map_err(torch)?;
        let raw = raw.f_to_device(device).map_err(torch)?;
        let nchw = match self.layout {
            Layout::Nchw => raw,
            Layout::Nhwc => raw.f_permute([0, 3, 1, 2]).map_err(torch)?,
        };
        let float = nchw.f_to_kind(Kind::Float).map_err(torch)?;
        if self.dtype.is_float() {
            let finite = float
                .f_isfinite()
                .and_then(|f| f.f_all())
                .and_then(|a| a.f_int64_value(&[]))
                .map_err(torch)?;
            if finite == 0 {
                return Err(EngineError::invalid(
                    "data",
                    "contains NaN or infinite values; expected finite floats",
                ));
            }
        }
        match (self.dtype, self.standardized) {
            (PixelType::Uint8, _) => Ok(normalization.standardize(&(float / 255.0))?),
            (_, true) => Ok(float),
            (_, false) => Ok(normalization.standardize(&float)?),
        }
    }

    /// A standardized tensor [N, C, H, W] in the convention, dtype and layout of `like`.
    pub fn from_standardized(
        images: &Tensor,
        like: &RawBatch,
        normalization: &Normalization,
    ) -> Result<Self, EngineError> {
        let torch = |e: tch::TchError| EngineError::Torch(e.into());
        let images = images.f_to_device(Device::Cpu).map_err(torch)?;
        let values = match (like.dtype, like.standardized) {
            (_, true) => images,
            (PixelType::Uint8, false) => normalization
                .unstandardize(&images)?
                .f_clamp(0.0, 1.0)
                .and_then(|t| t.f_mul_scalar(255.0))
                .and_then(|t| t.f_round())
                .map_err(torch)?,
            (_, false) => normalization.unstandardize(&images)?,
        };
        let laid = match like.layout {
            Layout::Nchw => values,
            Layout::Nhwc => values.f_permute([0, 2, 3, 1]).map_err(torch)?,
        };
        let typed = laid
            .f_to_kind(like.dtype.kind())
            .and_then(|t| t.f_contiguous())
            .map_err(torch)?;
        let numel = typed.numel();
        let mut data = vec![0u8; numel * like.dtype.size()];
        typed.f_copy_data_u8(&mut data, numel).map_err(torch)?;
        let shape = typed.size();
        Self::new(data, like.dtype, like.layout, &shape, like.standardized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm() -> Normalization {
        Normalization {
            mean: vec![0.5, 0.4, 0.3],
            std: vec![0.2, 0.25, 0.3],
        }
    }

    #[test]
    fn wrong_byte_count_names_the_expected_length() {
        let e = RawBatch::new(
            vec![0; 10],
            PixelType::Float32,
            Layout::Nchw,
            &[1, 1, 2, 2],
            false,
        )
        .expect_err("refused");
        assert_eq!(
            e.to_string(),
            "data: 10 bytes given, expected 16 (shape [1, 1, 2, 2] × 4 byte(s) per Float32 element)"
        );
    }

    #[test]
    fn shape_errors_name_the_dimension() {
        let e = RawBatch::new(vec![], PixelType::Uint8, Layout::Nhwc, &[2, 0, 4, 3], false)
            .expect_err("refused");
        assert!(e.to_string().starts_with("shape: dimension 1 is 0"), "{e}");
        let e = RawBatch::new(vec![0; 8], PixelType::Uint8, Layout::Nchw, &[8], false)
            .expect_err("refused");
        assert!(
            e.to_string().contains("1 dimensions given, expected 4"),
            "{e}"
        );
        let e = RawBatch::new(
            vec![0; 4],
            PixelType::Uint8,
            Layout::Nchw,
            &[1, 1, 2, 2],
            true,
        )
        .expect_err("refused");
        assert!(e.to_string().starts_with("standardized:"), "{e}");
    }

    #[test]
    fn model_checks_name_channels_size_and_count() {
        let b = RawBatch::new(
            vec![0; 2 * 8 * 8 * 3],
            PixelType::Uint8,
            Layout::Nhwc,
            &[2, 8, 8, 3],
            false,
        )
        .expect("batch");
        assert!(b.check_for(3, 4, 2).is_ok());
        let e = b.check_for(1, 4, 1).expect_err("refused").to_string();
        assert!(
            e.contains("3 channels (dimension 3 in this layout), the model takes 1"),
            "{e}"
        );
        let e = b.check_for(3, 3, 2).expect_err("refused").to_string();
        assert!(e.contains("at most 3 per request"), "{e}");
        let tiny = RawBatch::new(
            vec![0; 3 * 2 * 8],
            PixelType::Uint8,
            Layout::Nchw,
            &[1, 3, 2, 8],
            false,
        )
        .expect("batch");
        assert!(tiny
            .check_for(3, 8, 1)
            .expect_err("refused")
            .to_string()
            .contains("height 2"));
    }

    #[test]
    fn layouts_and_dtypes_round_trip_exactly() {
        let pixels: Vec<u8> = (0..2 * 3 * 4 * 5).map(|i| (i * 7 % 256) as u8).collect();
        let nchw = RawBatch::new(
            pixels.clone(),
            PixelType::Uint8,
            Layout::Nchw,
            &[2, 3, 4, 5],
            false,
        )
        .expect("batch");
        let t = nchw.to_standardized(&norm(), Device::Cpu).expect("tensor");
        let back = RawBatch::from_standardized(&t, &nchw, &norm()).expect("back");
        assert_eq!(back.into_data(), pixels);
        // The same images in NHWC give the same standardized tensor.
        let nhwc_pixels = Vec::<u8>::try_from(
            Tensor::from_slice(&pixels)
                .view([2, 3, 4, 5])
                .permute([0, 2, 3, 1])
                .contiguous()
                .flatten(0, -1),
        )
        .expect("pixels");
        let nhwc = RawBatch::new(
            nhwc_pixels.clone(),
            PixelType::Uint8,
            Layout::Nhwc,
            &[2, 4, 5, 3],
            false,
        )
        .expect("batch");
        let t2 = nhwc.to_standardized(&norm(), Device::Cpu).expect("tensor");
        assert_eq!(f64::try_from((&t - &t2).abs().max()).expect("max"), 0.0);
        let back = RawBatch::from_standardized(&t2, &nhwc, &norm()).expect("back");
        assert_eq!(back.shape(), vec![2, 4, 5, 3]);
        assert_eq!(back.into_data(), nhwc_pixels);
    }

    #[test]
    fn floats_must_be_finite() {
        let mut values = [0.5f32; 16];
        values[5] = f32::NAN;
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let b = RawBatch::new(data, PixelType::Float32, Layout::Nchw, &[1, 1, 4, 4], false)
            .expect("batch");
        let e = b
            .to_standardized(&Normalization::identity(1), Device::Cpu)
            .expect_err("refused");
        assert_eq!(
            e.to_string(),
            "data: contains NaN or infinite values; expected finite floats"
        );
    }
}
