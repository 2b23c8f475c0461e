//! A window on an X11 desktop (or XWayland) for developing the booth at a desk: the booth's
//! frames in a window of the screen's size, clicks as touches, and the keyboard as the print
//! button (P or the space bar). The same frames and taps go through the booth as on the panel.

use std::sync::Arc;

use image::RgbImage;
use x11rb::connection::Connection;
use x11rb::image::{Image, PixelLayout};
use x11rb::protocol::xproto::{
    AtomEnum, ConnectionExt, CreateGCAux, CreateWindowAux, EventMask, PropMode, Visualtype, Window, WindowClass,
};
use x11rb::protocol::Event;
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;

use crate::display::{check_frame_size, Display};
use crate::error::{DeviceError, DeviceResult};
use crate::input::{Input, InputEvent};

/// X keysyms of the keys that press the print button.
const PRINT_KEYS: [u32; 3] = [0x0070 /* p */, 0x0050 /* P */, 0x0020 /* space */];

struct Shared {
    conn: RustConnection,
    window: Window,
    gc: u32,
    layout: PixelLayout,
    depth: u8,
    /// keycode -> keysyms, from the server's keyboard mapping.
    keysyms: Vec<Vec<u32>>,
    min_keycode: u8,
}

pub struct X11Window {
    shared: Arc<Shared>,
    size: (u32, u32),
    name: String,
}

/// The window's clicks and keys.
pub struct X11Input {
    shared: Arc<Shared>,
}

fn fail(display: &str, problem: impl std::fmt::Display) -> DeviceError {
    DeviceError::new(
        format!("X11 window on {display}"),
        problem.to_string(),
        "run under an X11 or Wayland desktop (DISPLAY set), or choose another devices.display.kind",
    )
}

fn true_color_visual(conn: &RustConnection, screen: usize) -> Option<(Visualtype, u8)> {
    let s = &conn.setup().roots[screen];
    s.allowed_depths
        .iter()
        .filter(|d| d.depth == s.root_depth)
        .flat_map(|d| d.visuals.iter().map(move |v| (*v, d.depth)))
        .find(|(v, _)| v.visual_id == s.root_visual)
}

impl X11Window {
    /// Opens a window of `width` x `height` on `display` (`None`: $DISPLAY).
    pub fn open(display: Option<&str>, width: u32, height: u32, title: &str) -> DeviceResult<(X11Window, X11Input)> {
        let shown = display.map(str::to_string).or_else(|| std::env::var("DISPLAY").ok()).unwrap_or_else(|| "(no DISPLAY)".into());
        let (conn, screen) = x11rb::connect(display).map_err(|e| fail(&shown, format!("cannot connect: {e}")))?;
        let (visual, depth) = true_color_visual(&conn, screen).ok_or_else(|| fail(&shown, "the screen has no true-colour visual"))?;
        let layout = PixelLayout::from_visual_type(visual).map_err(|e| fail(&shown, format!("unusable visual: {e}")))?;
        let root = conn.setup().roots[screen].root;
        let window = conn.generate_id().map_err(|e| fail(&shown, e))?;
        let events = EventMask::EXPOSURE | EventMask::BUTTON_PRESS | EventMask::KEY_PRESS;
        let (w, h) = (u16::try_from(width).unwrap_or(u16::MAX), u16::try_from(height).unwrap_or(u16::MAX));
        let x = |e: x11rb::errors::ConnectionError| fail(&shown, e);
        conn.create_window(
            depth,
            window,
            root,
            0,
            0,
            w,
            h,
            0,
            WindowClass::INPUT_OUTPUT,
            visual.visual_id,
            &CreateWindowAux::new().event_mask(events).background_pixel(0),
        )
        .map_err(x)?;
        conn.change_property8(PropMode::REPLACE, window, AtomEnum::WM_NAME, AtomEnum::STRING, title.as_bytes()).map_err(x)?;
        let gc = conn.generate_id().map_err(|e| fail(&shown, e))?;
        conn.create_gc(gc, window, &CreateGCAux::new()).map_err(x)?;
        conn.map_window(window).map_err(x)?;
        let min_keycode = conn.setup().min_keycode;
        let count = conn.setup().max_keycode - min_keycode + 1;
        let mapping = conn.get_keyboard_mapping(min_keycode, count).map_err(x)?.reply().map_err(|e| fail(&shown, e))?;
        let per = mapping.keysyms_per_keycode.max(1) as usize;
        let keysyms = mapping.keysyms.chunks(per).map(|c| c.to_vec()).collect();
        conn.flush().map_err(x)?;
        let shared = Arc::new(Shared { conn, window, gc, layout, depth, keysyms, min_keycode });
        let name = format!("X11 window {width}x{height} on {shown}");
        Ok((X11Window { shared: shared.clone(), size: (width, height), name }, X11Input { shared }))
    }

    /// The X window id (for tests and screenshots).
    pub fn window(&self) -> u32 {
        self.shared.window
    }
}

impl Display for X11Window {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn present(&mut self, frame: &RgbImage, _label: &str) -> DeviceResult<()> {
        check_frame_size(self, frame)?;
        let s = &self.shared;
        let err = |e: &dyn std::fmt::Display| {
            DeviceError::new(self.name(), format!("cannot show a frame: {e}"), "check the X server is still running")
        };
        let (w, h) = (frame.width() as u16, frame.height() as u16);
        let mut image = Image::allocate_native(w, h, s.depth, s.conn.setup()).map_err(|e| err(&e))?;
        let wide = |v: u8| (v as u16) << 8 | v as u16;
        for (x, y, p) in frame.enumerate_pixels() {
            image.put_pixel(x as u16, y as u16, s.layout.encode((wide(p[0]), wide(p[1]), wide(p[2]))));
        }
        // Split into requests the server accepts.
        image.put(&s.conn, s.window, s.gc, 0, 0).map_err(|e| err(&e))?;
        s.conn.flush().map_err(|e| err(&e))
    }
}

impl Input for X11Input {
    fn name(&self) -> String {
        "X11 window: click = touch, P or space = print button".into()
    }

    fn poll(&mut self, _screen: &str) -> DeviceResult<Option<InputEvent>> {
        let s = &self.shared;
        loop {
            let event = s.conn.poll_for_event().map_err(|e| {
                DeviceError::new(self.name(), format!("the X connection broke: {e}"), "check the X server is still running")
            })?;
            match event {
                None => return Ok(None),
                Some(Event::ButtonPress(b)) if b.detail == 1 => {
                    return Ok(Some(InputEvent::Touch { x: b.event_x as i32, y: b.event_y as i32 }))
                }
                Some(Event::KeyPress(k)) => {
                    let syms = s.keysyms.get(k.detail.saturating_sub(s.min_keycode) as usize).map(Vec::as_slice).unwrap_or(&[]);
                    if syms.iter().any(|sym| PRINT_KEYS.contains(sym)) {
                        return Ok(Some(InputEvent::PrintButton));
                    }
                }
                Some(_) => {}
            }
        }
    }
}
