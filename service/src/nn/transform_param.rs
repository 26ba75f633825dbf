//! The transformation parameters an augmenter outputs, as one table: each parameter's name (as
//! the records, the metrics and the wire call it) and its range under the spread variants.
use super::variant::SpreadRange;

/// One transformation parameter: an entry of the 2 × 3 affine matrix, or a colour parameter of
/// `affine_color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransformParam {
    /// Matrix entry (1, 1).
    A11,
    /// Matrix entry (1, 2).
    A12,
    /// Horizontal translation.
    Tx,
    /// Matrix entry (2, 1).
    A21,
    /// Matrix entry (2, 2).
    A22,
    /// Vertical translation.
    Ty,
    /// Brightness factor.
    Brightness,
    /// Additive colour shift.
    Shift,
    /// Saturation factor.
    Saturation,
    /// Hue rotation.
    Hue,
}

impl TransformParam {
    /// Every parameter in the order of the transformation's columns: the six affine matrix
    /// entries row by row, then the four colour parameters.
    pub const ALL: [Self; 10] = [
        Self::A11,
        Self::A12,
        Self::Tx,
        Self::A21,
        Self::A22,
        Self::Ty,
        Self::Brightness,
        Self::Shift,
        Self::Saturation,
        Self::Hue,
    ];

    /// The affine matrix entries (the first six of [`Self::ALL`]), the columns of every
    /// affine transformation.
    pub const AFFINE: &'static [Self] = Self::ALL.as_slice().split_at(6).0;

    /// The name (`a11`, …, `hue`).
    pub fn name(self) -> &'static str {
        match self {
            Self::A11 => "a11",
            Self::A12 => "a12",
            Self::Tx => "tx",
            Self::A21 => "a21",
            Self::A22 => "a22",
            Self::Ty => "ty",
            Self::Brightness => "brightness",
            Self::Shift => "shift",
            Self::Saturation => "saturation",
            Self::Hue => "hue",
        }
    }

    /// The parameter called `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Its range under the spread variants. Matrix entries are offsets from the identity,
    /// translations in normalized coordinates (2 = the image's width), colour parameters
    /// offsets from "no change". A floor of 0.02 is 20 times the collapse threshold.
    pub fn spread_range(self) -> SpreadRange {
        let (bound, floor, cap) = match self {
            Self::Tx | Self::Ty => (0.25, 0.03, 0.15),
            Self::Brightness | Self::Saturation => (0.3, 0.02, 0.2),
            Self::Shift | Self::Hue => (0.2, 0.02, 0.1),
            Self::A11 | Self::A12 | Self::A21 | Self::A22 => (0.25, 0.02, 0.12),
        };
        SpreadRange { bound, floor, cap }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_ranges_keep_the_floor_above_the_collapse_threshold() {
        for p in TransformParam::ALL {
            assert_eq!(TransformParam::from_name(p.name()), Some(p));
            let r = p.spread_range();
            assert!(r.floor >= 0.02 && r.floor < r.cap && r.bound > 0.0, "{p:?}");
        }
        assert_eq!(TransformParam::from_name("zoom"), None);
        assert_eq!(TransformParam::AFFINE.last(), Some(&TransformParam::Ty));
        assert_eq!(TransformParam::Tx.spread_range().floor, 0.03);
    }
}
