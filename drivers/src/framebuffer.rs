//! An RGB framebuffer that embedded-graphics draws into: every screen the booth shows is drawn here
//! and then handed to a [`crate::display::Display`].

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use image::{imageops, RgbImage};

pub struct Framebuffer {
    pub image: RgbImage,
}

impl Framebuffer {
    pub fn new(width: u32, height: u32) -> Self {
        Self { image: RgbImage::new(width, height) }
    }

    pub fn width(&self) -> u32 {
        self.image.width()
    }

    pub fn height(&self) -> u32 {
        self.image.height()
    }

    /// Fills the whole frame with one colour.
    pub fn fill(&mut self, color: Rgb888) {
        for p in self.image.pixels_mut() {
            *p = image::Rgb([color.r(), color.g(), color.b()]);
        }
    }

    /// Draws `picture` scaled to fit inside the box at (x, y, w, h), centred, aspect kept.
    /// Returns the rectangle it covered.
    pub fn blit_fit(&mut self, picture: &RgbImage, x: i32, y: i32, w: u32, h: u32) -> (i32, i32, u32, u32) {
        if picture.width() == 0 || picture.height() == 0 || w == 0 || h == 0 {
            return (x, y, 0, 0);
        }
        let scale = (w as f32 / picture.width() as f32).min(h as f32 / picture.height() as f32);
        let sw = ((picture.width() as f32 * scale).round() as u32).max(1);
        let sh = ((picture.height() as f32 * scale).round() as u32).max(1);
        let scaled = if (sw, sh) == picture.dimensions() {
            picture.clone()
        } else {
            imageops::resize(picture, sw, sh, imageops::FilterType::Triangle)
        };
        let ox = x + (w as i32 - sw as i32) / 2;
        let oy = y + (h as i32 - sh as i32) / 2;
        imageops::overlay(&mut self.image, &scaled, ox as i64, oy as i64);
        (ox, oy, sw, sh)
    }

    /// Darkens (alpha < 1 keeps some of the picture) the rectangle: a backdrop for text over a photo.
    pub fn shade(&mut self, x: i32, y: i32, w: u32, h: u32, color: Rgb888, alpha: f32) {
        let (iw, ih) = self.image.dimensions();
        for yy in y.max(0)..(y + h as i32).min(ih as i32) {
            for xx in x.max(0)..(x + w as i32).min(iw as i32) {
                let p = self.image.get_pixel_mut(xx as u32, yy as u32);
                let c = [color.r(), color.g(), color.b()];
                for i in 0..3 {
                    p.0[i] = (p.0[i] as f32 * (1.0 - alpha) + c[i] as f32 * alpha).round() as u8;
                }
            }
        }
    }
}

impl OriginDimensions for Framebuffer {
    fn size(&self) -> Size {
        Size::new(self.image.width(), self.image.height())
    }
}

impl DrawTarget for Framebuffer {
    type Color = Rgb888;
    type Error = core::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        let (w, h) = self.image.dimensions();
        for Pixel(p, c) in pixels {
            if p.x >= 0 && p.y >= 0 && (p.x as u32) < w && (p.y as u32) < h {
                self.image.put_pixel(p.x as u32, p.y as u32, image::Rgb([c.r(), c.g(), c.b()]));
            }
        }
        Ok(())
    }
}

/// Draws every pixel as an `factor` x `factor` block: large, readable type from bitmap fonts.
pub struct Scaled<'a, D> {
    pub target: &'a mut D,
    pub factor: u32,
    pub origin: Point,
}

impl<D: DrawTarget> OriginDimensions for Scaled<'_, D> {
    fn size(&self) -> Size {
        let s = self.target.bounding_box().size;
        Size::new(s.width / self.factor.max(1), s.height / self.factor.max(1))
    }
}

impl<D: DrawTarget> DrawTarget for Scaled<'_, D> {
    type Color = D::Color;
    type Error = D::Error;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        let f = self.factor.max(1) as i32;
        let origin = self.origin;
        let blocks = pixels
            .into_iter()
            .flat_map(move |Pixel(p, c)| (0..f * f).map(move |i| Pixel(origin + Point::new(p.x * f + i % f, p.y * f + i / f), c)));
        self.target.draw_iter(blocks)
    }
}
