//! Paper sizes the booth prints on: photo paper at 300 dpi, thermal rolls at 203 dpi.

use std::fmt;
use std::str::FromStr;

/// Print resolution of dye-sublimation photo printers.
pub const PRINT_DPI: u32 = 300;
/// Print resolution of ESC/POS thermal receipt printers (8 dots per mm).
pub const THERMAL_DPI: u32 = 203;

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
    /// A 58 mm thermal roll: 48 mm (384 dots) printable, cut at 120 mm.
    Thermal58,
    /// An 80 mm thermal roll: 72 mm (576 dots) printable, cut at 150 mm.
    Thermal80,
}

impl PaperSize {
    pub const ALL: [PaperSize; 6] =
        [PaperSize::FourBySix, PaperSize::TwoBySix, PaperSize::FiveBySeven, PaperSize::A6, PaperSize::Thermal58, PaperSize::Thermal80];

    pub fn name(self) -> &'static str {
        match self {
            PaperSize::FourBySix => "4x6",
            PaperSize::TwoBySix => "2x6",
            PaperSize::FiveBySeven => "5x7",
            PaperSize::A6 => "a6",
            PaperSize::Thermal58 => "58mm",
            PaperSize::Thermal80 => "80mm",
        }
    }

    /// The PWG 5101.1 media name IPP printers and CUPS know the size by.
    pub fn pwg_media(self) -> &'static str {
        match self {
            PaperSize::FourBySix => "na_index-4x6_4x6in",
            PaperSize::TwoBySix => "custom_2x6_2x6in",
            PaperSize::FiveBySeven => "na_5x7_5x7in",
            PaperSize::A6 => "iso_a6_105x148mm",
            PaperSize::Thermal58 => "roll_58mm_58x120mm",
            PaperSize::Thermal80 => "roll_80mm_80x150mm",
        }
    }

    /// A black-and-white thermal roll rather than colour photo paper.
    pub fn is_thermal(self) -> bool {
        matches!(self, PaperSize::Thermal58 | PaperSize::Thermal80)
    }

    pub fn dpi(self) -> u32 {
        if self.is_thermal() {
            THERMAL_DPI
        } else {
            PRINT_DPI
        }
    }

    /// Portrait size in inches.
    pub fn inches(self) -> (f32, f32) {
        match self {
            PaperSize::FourBySix => (4.0, 6.0),
            PaperSize::TwoBySix => (2.0, 6.0),
            PaperSize::FiveBySeven => (5.0, 7.0),
            PaperSize::A6 => (105.0 / 25.4, 148.0 / 25.4),
            PaperSize::Thermal58 => (48.0 / 25.4, 120.0 / 25.4),
            PaperSize::Thermal80 => (72.0 / 25.4, 150.0 / 25.4),
        }
    }

    /// Portrait size of the printable area in pixels at [`Self::dpi`].
    pub fn pixels(self) -> (u32, u32) {
        match self {
            // Thermal heads have a fixed number of dots; the card length is ours to choose.
            PaperSize::Thermal58 => (384, 960),
            PaperSize::Thermal80 => (576, 1200),
            _ => {
                let (w, h) = self.inches();
                ((w * PRINT_DPI as f32).round() as u32, (h * PRINT_DPI as f32).round() as u32)
            }
        }
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
        assert_eq!("80MM".parse::<PaperSize>(), Ok(PaperSize::Thermal80));
        // The thermal widths are the heads' dots at 8 per mm.
        assert_eq!(PaperSize::Thermal58.pixels().0, (48 * 8) as u32);
        assert_eq!(PaperSize::Thermal80.pixels().0, (72 * 8) as u32);
        assert!("letter".parse::<PaperSize>().unwrap_err().contains("4x6"));
    }
}
