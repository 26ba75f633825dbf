//! The data layer's error type: every failure to read, check, split or batch images.
//!
//! A variant about a file always carries its path, so the message alone tells the user which
//! file to look at and what is wrong with it.
use std::path::PathBuf;

use crate::fault::Fault;

/// Why a data-set could not be read, built, split or batched.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or directory the reader needs does not exist.
    #[error("{path}: not found")]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// Reading a file or listing a directory failed for another reason.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file of fixed-size records whose size is not a whole number of records.
    #[error(
        "{path}: size {size} bytes is not a multiple of the record size {record_size} bytes \
         (truncated or not this format)"
    )]
    RecordSize {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The size of one record in bytes.
        record_size: usize,
    },
    /// A file shorter than its format or its header says it should be.
    #[error("{path}: truncated {part}: expected {expected} bytes, found {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Which part is cut short ("header", "data", "record").
        part: &'static str,
        /// Bytes the header promises.
        expected: u64,
        /// Bytes actually present.
        found: u64,
    },
    /// A label in a file is not a class index of the data-set.
    #[error("{path}: record {record} has label {label}, outside 0..{num_classes}")]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Index of the record (0-based) in the file.
        record: usize,
        /// The label found.
        label: i64,
        /// Number of classes of the data-set.
        num_classes: usize,
    },
    /// An IDX file whose magic number is not the one expected.
    #[error("{path}: wrong magic number: expected {expected:#010x}, found {found:#010x}")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number this kind of file must start with.
        expected: u32,
        /// The first four bytes of the file, big-endian.
        found: u32,
    },
    /// An IDX file holding an element type other than unsigned bytes.
    #[error("{path}: unsupported IDX element type {dtype:#04x} (only 0x08, unsigned byte)")]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The type code found in the header.
        dtype: u8,
    },
    /// An images file and a labels file that do not describe the same number of items.
    #[error("{images} holds {image_count} images but {labels} holds {label_count} labels")]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// Number of images it holds.
        image_count: usize,
        /// The labels file.
        labels: PathBuf,
        /// Number of labels it holds.
        label_count: usize,
    },
    /// A gzip stream that cannot be decompressed.
    #[error("{path}: corrupt gzip data: {source}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// What the decompressor said.
        source: std::io::Error,
    },
    /// An image file that the decoder rejects.
    #[error("{path}: cannot decode image: {message}")]
    Image {
        /// The file.
        path: PathBuf,
        /// What the decoder said.
        message: String,
    },
    /// An image whose size differs from the data-set's, with neither resizing nor patches asked.
    #[error(
        "{path}: image is {found_height}x{found_width} (height x width) but the data-set's \
         images are {expected_height}x{expected_width}; set a resize or a patch size"
    )]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// Its height.
        found_height: usize,
        /// Its width.
        found_width: usize,
        /// The height of the images read before it.
        expected_height: usize,
        /// The width of the images read before it.
        expected_width: usize,
    },
    /// An image smaller than the patch size asked for.
    #[error("{path}: image is {height}x{width} (height x width), smaller than the {patch}x{patch} patch")]
    SmallerThanPatch {
        /// The file.
        path: PathBuf,
        /// Its height.
        height: usize,
        /// Its width.
        width: usize,
        /// The patch side.
        patch: u32,
    },
    /// A class folder without a single image in it.
    #[error("{path}: class folder holds no image (png, jpg, jpeg, tif, tiff)")]
    EmptyClass {
        /// The class folder.
        path: PathBuf,
    },
    /// An image-folder root without class sub-folders.
    #[error("{path}: no class folders (expected one sub-folder of images per class)")]
    NoClasses {
        /// The root folder.
        path: PathBuf,
    },
    /// A class that has fewer images than a balanced subset asks for.
    #[error("class '{class}' has {available} images, fewer than the {requested} asked for")]
    TooFewImages {
        /// The class name.
        class: String,
        /// How many images it has.
        available: usize,
        /// How many were asked for.
        requested: usize,
    },
    /// Pixels, labels, shape and classes that do not make up a valid image set, or an
    /// argument that is out of its range (a split ratio, an index, a batch size).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was being checked ("image set", "validation ratio", …).
        what: &'static str,
        /// Why it is invalid, with the offending values.
        reason: String,
    },
    /// A baseline name that does not parse: an unknown, repeated or conflicting part.
    #[error("invalid baseline '{name}': {reason}")]
    UnknownBaseline {
        /// The name given.
        name: String,
        /// What is wrong with it, naming the part.
        reason: String,
    },
    /// A libtorch operation failed while building a batch.
    #[error("tensor operation failed while {context}: {source}")]
    Tensor {
        /// What was being done.
        context: &'static str,
        /// The libtorch error.
        source: crate::torch_error::TorchError,
    },
    /// The loader thread could not be started.
    #[error("cannot start the loader thread: {source}")]
    Thread {
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The loader thread stopped before delivering every batch of the epoch.
    #[error("the loader thread stopped after {delivered} of {expected} batches")]
    LoaderStopped {
        /// Batches received.
        delivered: usize,
        /// Batches the epoch has.
        expected: usize,
    },
}

impl DataError {
    /// An I/O error on `path`, turned into [`DataError::NotFound`] when the path is missing.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            Self::NotFound { path }
        } else {
            Self::Io { path, source }
        }
    }

    /// An [`DataError::Invalid`] with its reason.
    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what,
            reason: reason.into(),
        }
    }

    /// A [`DataError::Tensor`] maker for `map_err`.
    pub(crate) fn tensor(context: &'static str) -> impl FnOnce(tch::TchError) -> Self {
        move |source| Self::Tensor {
            context,
            source: source.into(),
        }
    }

    /// What kind of failure this is: a missing file is not found, a file not in its format is
    /// damaged data, a set that cannot be built as configured is a bad argument.
    pub fn fault(&self) -> Fault {
        match self {
            Self::NotFound { .. } => Fault::NotFound,
            Self::RecordSize { .. }
            | Self::Truncated { .. }
            | Self::LabelOutOfRange { .. }
            | Self::BadMagic { .. }
            | Self::UnsupportedDtype { .. }
            | Self::CountMismatch { .. }
            | Self::Gzip { .. }
            | Self::Image { .. } => Fault::Corrupt,
            Self::SizeMismatch { .. }
            | Self::SmallerThanPatch { .. }
            | Self::EmptyClass { .. }
            | Self::NoClasses { .. }
            | Self::TooFewImages { .. }
            | Self::Invalid { .. }
            | Self::UnknownBaseline { .. } => Fault::InvalidArgument,
            Self::Thread { .. } => Fault::Exhausted,
            Self::Io { .. } | Self::Tensor { .. } | Self::LoaderStopped { .. } => Fault::Internal,
        }
    }
}
