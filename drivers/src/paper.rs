//! Paper sizes the booth prints on, at 300 dpi.

use std::fmt;
use std::str::FromStr;

/// Print resolution of dye-sublimation photo printers.
pub const PRINT_DPI: u32 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperSize {
    /// 4x6 in (10x15 cm) postcard, the photo-booth standard.
    FourBySix,
    /// 2x6 in photo strip.
    TwoBySix,
    /// 5x7 in.
    FiveBySeven,
    /// A6, 105x148 mm.
    A6,
}

impl PaperSize {
    pub const ALL: [PaperSize; 4] = [PaperSize::FourBySix, PaperSize::TwoBySix, PaperSize::FiveBySeven, PaperSize::A6];

    pub fn name(self) -> &'static str {
        match self {
            PaperSize::FourBySix => "4x6",
            PaperSize::TwoBySix => "2x6",
            PaperSize::FiveBySeven => "5x7",
            PaperSize::A6 => "a6",
        }
    }

    /// Portrait size in inches.
    pub fn inches(self) -> (f32, f32) {
        match self {
            PaperSize::FourBySix => (4.0, 6.0),
            PaperSize::TwoBySix => (2.0, 6.0),
            PaperSize::FiveBySeven => (5.0, 7.0),
            PaperSize::A6 => (105.0 / 25.4, 148.0 / 25.4),
        }
    }

    /// Portrait size in pixels at [`PRINT_DPI`].
    pub fn pixels(self) -> (u32, u32) {
        let (w, h) = self.inches();
        ((w * PRINT_DPI as f32).round() as u32, (h * PRINT_DPI as f32).round() as u32)
    }
}

impl fmt::Display for PaperSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PaperSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PaperSize::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown paper size {s:?}; use one of {}", PaperSize::ALL.map(|p| p.name()).join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_at_300_dpi() {
        assert_eq!(PaperSize::FourBySix.pixels(), (1200, 1800));
        assert_eq!(PaperSize::TwoBySix.pixels(), (600, 1800));
        assert_eq!(PaperSize::A6.pixels(), (1240, 1748));
        assert_eq!("4X6".parse::<PaperSize>(), Ok(PaperSize::FourBySix));
        assert!("letter".parse::<PaperSize>().unwrap_err().contains("4x6"));
    }
}
