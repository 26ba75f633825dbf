//! [`ImageBatch`]: a batch of images as augmentd's API carries it (raw little-endian bytes,
//! element type, dimension order and a four-dimensional shape), with conversions from and to
//! `ndarray` arrays of `u8`, `f32` and `f16`, layout changes, slicing and concatenation.
use std::fmt;
use std::str::FromStr;

use augmentd_proto::v1 as pb;
use half::f16;
use ndarray::{Array4, ArrayBase, Data, Ix4};

use crate::error::ClientError;

/// Element type of a batch's bytes (little-endian on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 8-bit pixels, 0..255.
    U8,
    /// IEEE 754 single precision: pixels in 0..1, or standardized values.
    F32,
    /// IEEE 754 half precision, same meaning as [`DType::F32`].
    F16,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::U8 => 1,
            DType::F32 => 4,
            DType::F16 => 2,
        }
    }

    /// The NumPy name: `uint8`, `float32` or `float16`.
    pub fn name(self) -> &'static str {
        match self {
            DType::U8 => "uint8",
            DType::F32 => "float32",
            DType::F16 => "float16",
        }
    }

    pub(crate) fn to_proto(self) -> pb::DType {
        match self {
            DType::U8 => pb::DType::DtypeUint8,
            DType::F32 => pb::DType::DtypeFloat32,
            DType::F16 => pb::DType::DtypeFloat16,
        }
    }

    pub(crate) fn from_proto(value: i32) -> Result<Self, ClientError> {
        match pb::DType::try_from(value) {
            Ok(pb::DType::DtypeUint8) => Ok(DType::U8),
            Ok(pb::DType::DtypeFloat32) => Ok(DType::F32),
            Ok(pb::DType::DtypeFloat16) => Ok(DType::F16),
            _ => Err(ClientError::invalid(format!("unknown dtype {value}"))),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Order of a batch's four dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `[images, channels, height, width]` (PyTorch).
    Nchw,
    /// `[images, height, width, channels]` (NumPy images, TensorFlow, image files).
    Nhwc,
}

impl Layout {
    /// `NCHW` or `NHWC`.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Nchw => "NCHW",
            Layout::Nhwc => "NHWC",
        }
    }

    pub(crate) fn to_proto(self) -> pb::Layout {
        match self {
            Layout::Nchw => pb::Layout::Nchw,
            Layout::Nhwc => pb::Layout::Nhwc,
        }
    }

    pub(crate) fn from_proto(value: i32) -> Result<Self, ClientError> {
        match pb::Layout::try_from(value) {
            Ok(pb::Layout::Nchw) => Ok(Layout::Nchw),
            Ok(pb::Layout::Nhwc) => Ok(Layout::Nhwc),
            _ => Err(ClientError::invalid(format!("unknown layout {value}"))),
        }
    }

    /// The shape in this layout of `n` images of `c` channels, `h` x `w` pixels.
    pub fn shape(self, n: usize, c: usize, h: usize, w: usize) -> [usize; 4] {
        match self {
            Layout::Nchw => [n, c, h, w],
            Layout::Nhwc => [n, h, w, c],
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Layout {
    type Err = ClientError;

    /// `nchw` or `nhwc`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "nchw" => Ok(Layout::Nchw),
            "nhwc" => Ok(Layout::Nhwc),
            _ => Err(ClientError::invalid(format!(
                "layout {s:?}: expected NCHW or NHWC"
            ))),
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for u8 {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
}

/// An element type a batch can hold: `u8`, `f32` or [`half::f16`].
pub trait Element: sealed::Sealed + Copy + 'static {
    /// Its [`DType`].
    const DTYPE: DType;
    /// Appends its little-endian bytes.
    fn put(self, out: &mut Vec<u8>);
    /// Reads it from `DTYPE.size()` little-endian bytes.
    fn get(bytes: &[u8]) -> Self;
}

impl Element for u8 {
    const DTYPE: DType = DType::U8;
    fn put(self, out: &mut Vec<u8>) {
        out.push(self);
    }
    fn get(bytes: &[u8]) -> Self {
        bytes[0]
    }
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }
}

impl Element for f16 {
    const DTYPE: DType = DType::F16;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(bytes: &[u8]) -> Self {
        f16::from_le_bytes([bytes[0], bytes[1]])
    }
}

/// A batch of images: `product(shape)` elements of `dtype` in `layout` order, little-endian,
/// no padding. The invariant (length = product(shape) x element size, four positive
/// dimensions) is checked by every constructor.
#[derive(Clone, PartialEq)]
pub struct ImageBatch {
    data: Vec<u8>,
    dtype: DType,
    layout: Layout,
    shape: [usize; 4],
}

impl fmt::Debug for ImageBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageBatch")
            .field("dtype", &self.dtype)
            .field("layout", &self.layout)
            .field("shape", &self.shape)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl ImageBatch {
    /// A batch from raw little-endian bytes; refuses a zero dimension or a length that is not
    /// `product(shape) x dtype.size()`.
    pub fn new(
        data: Vec<u8>,
        dtype: DType,
        layout: Layout,
        shape: [usize; 4],
    ) -> Result<Self, ClientError> {
        if shape.contains(&0) {
            return Err(ClientError::invalid(format!(
                "shape {shape:?} ({layout}): every dimension must be positive"
            )));
        }
        let expected = shape
            .iter()
            .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| ClientError::invalid(format!("shape {shape:?} is too large")))?;
        if data.len() != expected {
            return Err(ClientError::invalid(format!(
                "{} bytes do not match shape {shape:?} of {dtype} ({layout}): expected {expected}",
                data.len()
            )));
        }
        Ok(ImageBatch {
            data,
            dtype,
            layout,
            shape,
        })
    }

    /// A batch holding `array`, whose axes are in `layout` order (any memory order: the
    /// elements are read in logical order).
    pub fn from_array<A, S>(array: &ArrayBase<S, Ix4>, layout: Layout) -> Result<Self, ClientError>
    where
        A: Element,
        S: Data<Elem = A>,
    {
        let dim = array.dim();
        let shape = [dim.0, dim.1, dim.2, dim.3];
        let mut data = Vec::with_capacity(array.len() * A::DTYPE.size());
        for &x in array.iter() {
            x.put(&mut data);
        }
        ImageBatch::new(data, A::DTYPE, layout, shape)
    }

    /// The batch as an array in its own layout; refuses a batch of another dtype.
    pub fn to_array<A: Element>(&self) -> Result<Array4<A>, ClientError> {
        if self.dtype != A::DTYPE {
            return Err(ClientError::invalid(format!(
                "the batch holds {}, not {}",
                self.dtype,
                A::DTYPE
            )));
        }
        let values: Vec<A> = self
            .data
            .chunks_exact(A::DTYPE.size())
            .map(A::get)
            .collect();
        Array4::from_shape_vec(self.shape, values)
            .map_err(|e| ClientError::invalid(format!("shape {:?}: {e}", self.shape)))
    }

    /// The batch's values as `f32` whatever its dtype (`u8` values stay 0..255).
    pub fn to_f32_values(&self) -> Vec<f32> {
        let size = self.dtype.size();
        self.data
            .chunks_exact(size)
            .map(|b| match self.dtype {
                DType::U8 => f32::from(b[0]),
                DType::F32 => f32::get(b),
                DType::F16 => f16::get(b).to_f32(),
            })
            .collect()
    }

    /// The raw little-endian bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The raw bytes, consuming the batch.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The dimension order.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The four dimensions in [`ImageBatch::layout`] order.
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// Number of images (the first dimension).
    pub fn images(&self) -> usize {
        self.shape[0]
    }

    /// Channels per image.
    pub fn channels(&self) -> usize {
        match self.layout {
            Layout::Nchw => self.shape[1],
            Layout::Nhwc => self.shape[3],
        }
    }

    /// Image height.
    pub fn height(&self) -> usize {
        match self.layout {
            Layout::Nchw => self.shape[2],
            Layout::Nhwc => self.shape[1],
        }
    }

    /// Image width.
    pub fn width(&self) -> usize {
        match self.layout {
            Layout::Nchw => self.shape[3],
            Layout::Nhwc => self.shape[2],
        }
    }

    /// Bytes of one image.
    pub fn image_bytes(&self) -> usize {
        self.data.len() / self.shape[0]
    }

    /// The same images in `layout` (a copy; the batch itself when already in it).
    pub fn to_layout(&self, layout: Layout) -> ImageBatch {
        if layout == self.layout {
            return self.clone();
        }
        let (n, c, h, w) = (self.images(), self.channels(), self.height(), self.width());
        let size = self.dtype.size();
        let mut data = vec![0u8; self.data.len()];
        // Element offsets of (image, channel, row, column) in either layout.
        let nchw = |i: usize, ch: usize, y: usize, x: usize| ((i * c + ch) * h + y) * w + x;
        let nhwc = |i: usize, ch: usize, y: usize, x: usize| ((i * h + y) * w + x) * c + ch;
        for i in 0..n {
            for ch in 0..c {
                for y in 0..h {
                    for x in 0..w {
                        let (from, to) = match self.layout {
                            Layout::Nchw => (nchw(i, ch, y, x), nhwc(i, ch, y, x)),
                            Layout::Nhwc => (nhwc(i, ch, y, x), nchw(i, ch, y, x)),
                        };
                        data[to * size..(to + 1) * size]
                            .copy_from_slice(&self.data[from * size..(from + 1) * size]);
                    }
                }
            }
        }
        ImageBatch {
            data,
            dtype: self.dtype,
            layout,
            shape: layout.shape(n, c, h, w),
        }
    }

    /// Images `start..end` as a batch of their own.
    pub fn slice_images(&self, start: usize, end: usize) -> Result<ImageBatch, ClientError> {
        if start >= end || end > self.images() {
            return Err(ClientError::invalid(format!(
                "images {start}..{end} of a batch of {}",
                self.images()
            )));
        }
        let per = self.image_bytes();
        let mut shape = self.shape;
        shape[0] = end - start;
        ImageBatch::new(
            self.data[start * per..end * per].to_vec(),
            self.dtype,
            self.layout,
            shape,
        )
    }

    /// The images of `batches` one after the other; they must agree on dtype, layout and
    /// image shape.
    pub fn concat(batches: &[ImageBatch]) -> Result<ImageBatch, ClientError> {
        let first = batches
            .first()
            .ok_or_else(|| ClientError::invalid("no batch to concatenate"))?;
        let mut data = Vec::with_capacity(batches.iter().map(|b| b.data.len()).sum());
        let mut images = 0;
        for (i, b) in batches.iter().enumerate() {
            if b.dtype != first.dtype
                || b.layout != first.layout
                || b.shape[1..] != first.shape[1..]
            {
                return Err(ClientError::invalid(format!(
                    "batch {i} is {:?} of {} ({}), batch 0 is {:?} of {} ({})",
                    b.shape, b.dtype, b.layout, first.shape, first.dtype, first.layout
                )));
            }
            data.extend_from_slice(&b.data);
            images += b.images();
        }
        let mut shape = first.shape;
        shape[0] = images;
        ImageBatch::new(data, first.dtype, first.layout, shape)
    }

    /// The batch's shape as the API's `repeated int64`.
    pub(crate) fn proto_shape(&self) -> Vec<i64> {
        self.shape.iter().map(|&d| d as i64).collect()
    }

    /// A batch from the API's fields, checked.
    pub(crate) fn from_proto(
        data: Vec<u8>,
        dtype: i32,
        layout: i32,
        shape: &[i64],
    ) -> Result<ImageBatch, ClientError> {
        let dims: Vec<usize> = shape
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<Result<_, _>>()
            .map_err(|_| ClientError::invalid(format!("negative dimension in {shape:?}")))?;
        let shape: [usize; 4] = dims
            .try_into()
            .map_err(|_| ClientError::invalid(format!("shape {shape:?}: expected 4 dims")))?;
        ImageBatch::new(
            data,
            DType::from_proto(dtype)?,
            Layout::from_proto(layout)?,
            shape,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Axis;

    fn ramp_u8(shape: [usize; 4]) -> Array4<u8> {
        let n: usize = shape.iter().product();
        Array4::from_shape_vec(shape, (0..n).map(|i| (i * 7 % 256) as u8).collect()).expect("shape")
    }

    #[test]
    fn u8_round_trips_in_both_layouts() {
        for layout in [Layout::Nchw, Layout::Nhwc] {
            let a = ramp_u8([2, 3, 4, 5]);
            let b = ImageBatch::from_array(&a, layout).expect("batch");
            assert_eq!(b.dtype(), DType::U8);
            assert_eq!(b.layout(), layout);
            assert_eq!(b.shape(), [2, 3, 4, 5]);
            assert_eq!(b.data().len(), 120);
            assert_eq!(b.to_array::<u8>().expect("array"), a);
        }
    }

    #[test]
    fn f32_bytes_are_little_endian_and_round_trip() {
        let a = Array4::from_shape_vec([1, 1, 1, 2], vec![1.0f32, -0.5]).expect("shape");
        let b = ImageBatch::from_array(&a, Layout::Nchw).expect("batch");
        assert_eq!(&b.data()[..4], &1.0f32.to_le_bytes());
        assert_eq!(&b.data()[4..], &(-0.5f32).to_le_bytes());
        assert_eq!(b.to_array::<f32>().expect("array"), a);
    }

    #[test]
    fn f16_round_trips() {
        let values: Vec<f16> = (0..24).map(|i| f16::from_f32(i as f32 / 23.0)).collect();
        let a = Array4::from_shape_vec([2, 2, 3, 2], values).expect("shape");
        let b = ImageBatch::from_array(&a, Layout::Nhwc).expect("batch");
        assert_eq!(b.dtype(), DType::F16);
        assert_eq!(b.data().len(), 48);
        assert_eq!(b.to_array::<f16>().expect("array"), a);
        assert_eq!(b.to_f32_values()[23], 1.0);
    }

    #[test]
    fn non_standard_memory_order_is_read_logically() {
        let a = ramp_u8([2, 3, 4, 5]);
        let permuted = a.view().permuted_axes([0, 2, 3, 1]); // an NHWC view of NCHW memory
        let b = ImageBatch::from_array(&permuted, Layout::Nhwc).expect("batch");
        assert_eq!(b.shape(), [2, 4, 5, 3]);
        assert_eq!(b.to_array::<u8>().expect("array"), permuted);
    }

    #[test]
    fn layout_conversion_matches_ndarray_permutation() {
        let a = ramp_u8([2, 3, 4, 5]);
        let nchw = ImageBatch::from_array(&a, Layout::Nchw).expect("batch");
        let nhwc = nchw.to_layout(Layout::Nhwc);
        assert_eq!(nhwc.shape(), [2, 4, 5, 3]);
        assert_eq!(
            (nhwc.channels(), nhwc.height(), nhwc.width()),
            (nchw.channels(), nchw.height(), nchw.width())
        );
        assert_eq!(
            nhwc.to_array::<u8>().expect("array"),
            a.view().permuted_axes([0, 2, 3, 1])
        );
        assert_eq!(nhwc.to_layout(Layout::Nchw), nchw);

        let f = a.mapv(|x| f32::from(x) / 255.0);
        let fb = ImageBatch::from_array(&f, Layout::Nchw).expect("batch");
        assert_eq!(
            fb.to_layout(Layout::Nhwc).to_array::<f32>().expect("array"),
            f.view().permuted_axes([0, 2, 3, 1])
        );
    }

    #[test]
    fn shape_and_length_are_checked() {
        let err = ImageBatch::new(vec![0; 10], DType::U8, Layout::Nhwc, [1, 2, 2, 3])
            .expect_err("short data");
        assert_eq!(
            err.to_string(),
            "INVALID_ARGUMENT: 10 bytes do not match shape [1, 2, 2, 3] of uint8 (NHWC): expected 12"
        );
        let err =
            ImageBatch::new(vec![], DType::F32, Layout::Nchw, [0, 3, 2, 2]).expect_err("empty");
        assert!(
            err.to_string().contains("every dimension must be positive"),
            "{err}"
        );
        let err = ImageBatch::new(vec![0; 12], DType::F32, Layout::Nchw, [1, 1, 1, 2])
            .expect_err("f32 length");
        assert!(err.to_string().contains("expected 8"), "{err}");
        let err = ImageBatch::from_proto(vec![0; 4], 1, 2, &[1, 2, 2]).expect_err("3 dims");
        assert!(err.to_string().contains("expected 4 dims"), "{err}");
        let err = ImageBatch::from_proto(vec![0; 4], 0, 2, &[1, 2, 2, 1]).expect_err("dtype");
        assert!(err.to_string().contains("unknown dtype 0"), "{err}");
    }

    #[test]
    fn wrong_dtype_is_refused_by_to_array() {
        let b = ImageBatch::from_array(&ramp_u8([1, 1, 2, 2]), Layout::Nchw).expect("batch");
        let err = b.to_array::<f32>().expect_err("dtype");
        assert_eq!(
            err.to_string(),
            "INVALID_ARGUMENT: the batch holds uint8, not float32"
        );
    }

    #[test]
    fn slice_and_concat_are_inverse() {
        let a = ramp_u8([5, 2, 3, 3]);
        let b = ImageBatch::from_array(&a, Layout::Nchw).expect("batch");
        let parts = [
            b.slice_images(0, 2).expect("slice"),
            b.slice_images(2, 5).expect("slice"),
        ];
        assert_eq!(
            parts[1].to_array::<u8>().expect("array"),
            a.slice_axis(Axis(0), (2..5).into())
        );
        assert_eq!(ImageBatch::concat(&parts).expect("concat"), b);
        assert!(b.slice_images(3, 6).is_err());
        let other = b.to_layout(Layout::Nhwc);
        let err = ImageBatch::concat(&[b, other]).expect_err("layouts differ");
        assert!(err.to_string().contains("batch 1"), "{err}");
    }

    #[test]
    fn layout_parses_in_any_case() {
        assert_eq!("NCHW".parse::<Layout>().expect("nchw"), Layout::Nchw);
        assert_eq!("nhwc".parse::<Layout>().expect("nhwc"), Layout::Nhwc);
        assert!("hwc".parse::<Layout>().is_err());
    }
}
