//! The drivers against the real things this machine can run: a sandboxed cupsd, socat ptys, a
//! framebuffer file, recorded evdev streams, Xvfb, V4L2 frames. One test binary for all of them (each binary
//! is a separate link and tens of MB). Two keep their own: the speaker (ALSA reads its configuration
//! once per process) and ttf (the face it sets is global).

mod common;

mod button_box;
mod cups;
mod fbdev;
mod thermal;
mod touch;
mod v4l_camera;
mod x11_window;
