//! The ControlNet preprocessors against controlnet_aux (tests/reference/make_preprocessor_fixtures.py).

mod common;

use common::fixtures;
use keepsake_models::preprocessors::canny::canny;

fn fixture(name: &str) -> image::DynamicImage {
    image::open(fixtures().join("preprocessors").join(name)).unwrap()
}

#[test]
fn canny_matches_opencv_pixel_for_pixel() {
    let photo = fixture("photo.png").to_rgb8();
    for (low, high) in [(100, 200), (50, 150)] {
        let ours = canny(&photo, low, high);
        let theirs = fixture(&format!("canny-{low}-{high}.png")).to_rgb8();
        assert_eq!(ours.dimensions(), theirs.dimensions());
        let edges = theirs.pixels().filter(|p| p[0] == 255).count();
        let differ: Vec<(u32, u32)> =
            ours.enumerate_pixels().filter(|(x, y, p)| p[0] != theirs.get_pixel(*x, *y)[0]).map(|(x, y, _)| (x, y)).take(20).collect();
        assert!(edges > 1000, "the reference has {edges} edge pixels");
        assert!(differ.is_empty(), "canny {low}/{high}: pixels differ from cv2.Canny, e.g. {differ:?} ({edges} edge pixels)");
    }
}
