//! The path of the parameter a module visitor or mapper is at, spelled as its tensor name
//! (`down_blocks.0.resnets.1.conv1.weight`): enum variants (the VAE's kind, TAESD's layer kinds)
//! are not part of it, as in the files.

#[derive(Debug, Default)]
pub struct ModulePath(Vec<String>);

impl ModulePath {
    pub fn enter(&mut self, name: &str, container_type: &str) {
        if !container_type.starts_with("Enum:") {
            self.0.push(name.to_string());
        }
    }

    pub fn exit(&mut self, container_type: &str) {
        if !container_type.starts_with("Enum:") {
            self.0.pop();
        }
    }

    /// The full tensor name.
    pub fn name(&self) -> String {
        self.0.join(".")
    }

    /// The last part (`weight`, `bias`, `gamma`…).
    pub fn leaf(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    /// The module the parameter belongs to (the name without its last part).
    pub fn module(&self) -> String {
        self.0[..self.0.len().saturating_sub(1)].join(".")
    }
}
