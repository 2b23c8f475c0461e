//! The development window under a real X server (Xvfb): a screenshot of the screen shows the
//! frame the booth presented, a click is a touch where it was made, and P is the print button.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};
use keepsake_drivers::display::Display;
use keepsake_drivers::input::{Input, InputEvent};
use keepsake_drivers::x11_window::X11Window;
use x11rb::connection::{Connection, RequestConnection};
use x11rb::image::{Image, PixelLayout};
use x11rb::protocol::xproto::{ConnectionExt, MapState, BUTTON_PRESS_EVENT, BUTTON_RELEASE_EVENT, KEY_PRESS_EVENT, KEY_RELEASE_EVENT};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::wrapper::ConnectionExt as _;

struct Xvfb(Child);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_xvfb() -> Option<(Xvfb, String)> {
    let display = format!(":{}", 90 + std::process::id() % 100);
    let child = match Command::new("Xvfb")
        // -noreset: an X server resets when its last client leaves, so the readiness probe below
        // disconnecting made the window's own connection race the reset ("connection reset by
        // peer", about one run in three).
        .args([display.as_str(), "-screen", "0", "640x480x24", "-nolisten", "tcp", "-noreset"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => {
            assert!(std::env::var("KEEPSAKE_STRICT_TESTS").as_deref() != Ok("1"), "KEEPSAKE_STRICT_TESTS=1 but Xvfb is missing");
            eprintln!("skipping: Xvfb is not installed");
            return None;
        }
    };
    let xvfb = Xvfb(child);
    let started = Instant::now();
    while x11rb::connect(Some(&display)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "Xvfb did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((xvfb, display))
}

fn wait_until(what: &str, done: impl FnMut() -> bool) {
    common::wait_for(what, Duration::from_secs(5), done)
}

#[test]
fn the_window_shows_the_frame_and_turns_clicks_and_keys_into_events() {
    let Some((_xvfb, display)) = start_xvfb() else { return };
    let (mut window, mut input) = X11Window::open(Some(&display), 200, 300, "Keepsake").unwrap();
    assert_eq!(window.size(), (200, 300));

    // A second client: the person at the desk and the screenshot tool.
    let (person, screen) = x11rb::connect(Some(&display)).unwrap();
    let root = person.setup().roots[screen].root;
    wait_until("the window is on screen", || {
        person.get_window_attributes(window.window()).unwrap().reply().unwrap().map_state == MapState::VIEWABLE
    });

    let frame = RgbImage::from_fn(200, 300, |x, y| Rgb([(x + y) as u8, (x * 3) as u8, (255 - y % 256) as u8]));
    window.present(&frame, "attract").unwrap();
    let (shot, visual_id) = Image::get(&person, root, 0, 0, 200, 300).unwrap();
    let visual =
        person.setup().roots[screen].allowed_depths.iter().flat_map(|d| d.visuals.iter()).find(|v| v.visual_id == visual_id).unwrap();
    let layout = PixelLayout::from_visual_type(*visual).unwrap();
    let screenshot = RgbImage::from_fn(200, 300, |x, y| {
        let (r, g, b) = layout.decode(shot.get_pixel(x as u16, y as u16));
        Rgb([(r >> 8) as u8, (g >> 8) as u8, (b >> 8) as u8])
    });
    assert_eq!(screenshot, frame, "the screen shows the frame, pixel for pixel");

    // A click at (50, 60), then the P key.
    person.prefetch_extension_information(x11rb::protocol::xtest::X11_EXTENSION_NAME).unwrap();
    person.xtest_fake_input(6 /* MotionNotify */, 0, 0, root, 50, 60, 0).unwrap();
    person.xtest_fake_input(BUTTON_PRESS_EVENT, 1, 0, root, 0, 0, 0).unwrap();
    person.xtest_fake_input(BUTTON_RELEASE_EVENT, 1, 0, root, 0, 0, 0).unwrap();
    let mapping = person
        .get_keyboard_mapping(person.setup().min_keycode, person.setup().max_keycode - person.setup().min_keycode + 1)
        .unwrap()
        .reply()
        .unwrap();
    let per = mapping.keysyms_per_keycode as usize;
    let p_key = mapping.keysyms.chunks(per).position(|syms| syms.contains(&0x70)).unwrap() as u8 + person.setup().min_keycode;
    person.xtest_fake_input(KEY_PRESS_EVENT, p_key, 0, root, 0, 0, 0).unwrap();
    person.xtest_fake_input(KEY_RELEASE_EVENT, p_key, 0, root, 0, 0, 0).unwrap();
    person.sync().unwrap();

    let mut events = Vec::new();
    wait_until("the click and the key arrive", || {
        while let Some(e) = input.poll("attract").unwrap() {
            events.push(e);
        }
        events.len() >= 2
    });
    assert_eq!(events, [InputEvent::Touch { x: 50, y: 60 }, InputEvent::PrintButton]);
}

#[test]
fn no_x_server_is_named_with_the_fix() {
    let err = X11Window::open(Some(":987"), 100, 100, "Keepsake").err().unwrap();
    assert!(err.device.contains(":987") && err.problem.contains("cannot connect") && err.fix.contains("DISPLAY"), "{err}");
}
