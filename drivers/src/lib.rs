//! Keepsake's devices, each behind a trait, each with an implementation that runs on any machine.
//!
//! The booth (the `keepsake` crate) composes these; nothing here knows about the booth's states.
//! Real hardware drivers (V4L2 camera, framebuffer/DRM display, evdev, ALSA, CUPS, ESC/POS) implement
//! the same traits, so the booth's code paths are the same on a developer machine and in the hall.

pub mod alsa_speaker;
pub mod audio;
pub mod button_box;
pub mod camera;
pub mod cups;
pub mod discover;
pub mod display;
pub mod error;
pub mod fbdev;
pub mod framebuffer;
pub mod gpio_button;
pub mod input;
pub mod kms;
pub mod narrator;
pub mod paper;
pub mod printer;
pub mod reconnect;
pub mod speaker;
pub mod text;
pub mod text_box;
pub mod thermal;
pub mod touch;
pub mod v4l_camera;
pub mod x11_window;

pub use error::DeviceError;
