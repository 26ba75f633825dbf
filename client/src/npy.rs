//! `.npy` files and batches: four-dimensional `uint8` or `float32` arrays in, `augmented.npy`
//! out. The layout is not in the file: by default `uint8` arrays are read as NHWC (NumPy
//! images) and `float32` arrays as NCHW (PyTorch tensors).
use std::path::Path;

use ndarray::Array4;
use ndarray_npy::{ReadNpyError, WriteNpyError};

use crate::batch::{DType, ImageBatch, Layout};
use crate::error::ClientError;

/// The layout an `.npy` array of `dtype` is read in when none is given: NHWC for `uint8`,
/// NCHW for floats.
pub fn default_npy_layout(dtype: DType) -> Layout {
    match dtype {
        DType::U8 => Layout::Nhwc,
        DType::F32 | DType::F16 => Layout::Nchw,
    }
}

fn read_error(path: &Path, err: ReadNpyError) -> ClientError {
    match err {
        ReadNpyError::Io(e) => ClientError::io(path, e),
        ReadNpyError::WrongNdim(_, found) => ClientError::npy(
            path,
            format!("expected 4 dimensions (NCHW or NHWC), found {found}"),
        ),
        ReadNpyError::WrongDescriptor(descr) => ClientError::npy(
            path,
            format!("dtype {descr} is not supported (uint8 or float32, little-endian)"),
        ),
        other => ClientError::npy(path, other),
    }
}

impl ImageBatch {
    /// Reads a four-dimensional `uint8` or `float32` `.npy` file whose axes are in `layout`
    /// order (`None`: [`default_npy_layout`] of its dtype).
    pub fn read_npy(path: &Path, layout: Option<Layout>) -> Result<ImageBatch, ClientError> {
        match ndarray_npy::read_npy::<_, Array4<u8>>(path) {
            Ok(a) => {
                return ImageBatch::from_array(&a, layout.unwrap_or(default_npy_layout(DType::U8)))
            }
            Err(ReadNpyError::WrongDescriptor(_)) => {}
            Err(e) => return Err(read_error(path, e)),
        }
        let a = ndarray_npy::read_npy::<_, Array4<f32>>(path).map_err(|e| read_error(path, e))?;
        ImageBatch::from_array(&a, layout.unwrap_or(default_npy_layout(DType::F32)))
    }

    /// Writes the batch as an `.npy` array in its own layout: `uint8` or `float32` (a
    /// `float16` batch is widened to `float32`).
    pub fn write_npy(&self, path: &Path) -> Result<(), ClientError> {
        let result = match self.dtype() {
            DType::U8 => ndarray_npy::write_npy(path, &self.to_array::<u8>()?),
            DType::F32 => ndarray_npy::write_npy(path, &self.to_array::<f32>()?),
            DType::F16 => {
                let a = self.to_array::<half::f16>()?.mapv(|v| v.to_f32());
                ndarray_npy::write_npy(path, &a)
            }
        };
        result.map_err(|e| match e {
            WriteNpyError::Io(e) => ClientError::io(path, e),
            other => ClientError::npy(path, other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trips_u8_and_f32() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Array4::from_shape_fn([2, 4, 3, 1], |(n, h, w, _)| (n * 50 + h * 10 + w) as u8);
        let p = dir.path().join("u8.npy");
        ndarray_npy::write_npy(&p, &a).expect("write");
        let b = ImageBatch::read_npy(&p, None).expect("read");
        assert_eq!(
            (b.dtype(), b.layout(), b.shape()),
            (DType::U8, Layout::Nhwc, [2, 4, 3, 1])
        );
        let out = dir.path().join("out.npy");
        b.write_npy(&out).expect("write back");
        let back: Array4<u8> = ndarray_npy::read_npy(&out).expect("read back");
        assert_eq!(back, a);

        let f = Array4::from_shape_fn([1, 3, 2, 2], |(_, c, h, w)| {
            (c * 4 + h * 2 + w) as f32 / 11.0
        });
        let pf = dir.path().join("f.npy");
        ndarray_npy::write_npy(&pf, &f).expect("write");
        let b = ImageBatch::read_npy(&pf, None).expect("read");
        assert_eq!((b.dtype(), b.layout()), (DType::F32, Layout::Nchw));
        assert_eq!(b.to_array::<f32>().expect("array"), f);
        let b = ImageBatch::read_npy(&pf, Some(Layout::Nhwc)).expect("read nhwc");
        assert_eq!(b.channels(), 2);
        b.write_npy(&out).expect("write back");
        let back: Array4<f32> = ndarray_npy::read_npy(&out).expect("read back");
        assert_eq!(back, f);
    }

    #[test]
    fn f16_batches_are_written_as_f32() {
        let dir = tempfile::tempdir().expect("tempdir");
        let h = Array4::from_elem([1, 1, 2, 2], half::f16::from_f32(0.25));
        let b = ImageBatch::from_array(&h, Layout::Nchw).expect("batch");
        let out = dir.path().join("h.npy");
        b.write_npy(&out).expect("write");
        let back: Array4<f32> = ndarray_npy::read_npy(&out).expect("read");
        assert_eq!(back, Array4::from_elem([1, 1, 2, 2], 0.25f32));
    }

    #[test]
    fn unsupported_arrays_are_explained() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("f64.npy");
        ndarray_npy::write_npy(&p, &Array4::<f64>::zeros([1, 1, 1, 1])).expect("write");
        let err = ImageBatch::read_npy(&p, None).expect_err("f64");
        assert!(
            err.to_string()
                .contains("is not supported (uint8 or float32"),
            "{err}"
        );
        assert!(
            err.to_string().starts_with(&p.display().to_string()),
            "{err}"
        );

        let p3 = dir.path().join("3d.npy");
        ndarray_npy::write_npy(&p3, &ndarray::Array3::<u8>::zeros([1, 2, 2])).expect("write");
        let err = ImageBatch::read_npy(&p3, None).expect_err("3 dims");
        assert!(err.to_string().contains("expected 4 dimensions"), "{err}");

        let err = ImageBatch::read_npy(&dir.path().join("none.npy"), None).expect_err("missing");
        assert!(matches!(err, ClientError::Io { .. }), "{err}");
    }
}
