//! The deployment's workspace (`/workspace`, a WASI preopen) and safe path handling.

use std::path::{Component, Path, PathBuf};

/// Where the built-in tools read and write. Paths given by the model are relative to
/// it; absolute paths and `..` are refused before the host's preopen would refuse them.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

impl Default for Workspace {
    /// `/workspace`, as the host preopens it.
    fn default() -> Self {
        Self::new("/workspace")
    }
}

impl Workspace {
    /// A workspace rooted at `root` (tests use a temporary directory).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves a model-given relative path; `""` and `"."` are the root.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, String> {
        let relative = Path::new(path);
        if relative.has_root() || relative.is_absolute() {
            return Err(format!("`{path}` is absolute; use a path relative to the workspace (e.g. `notes/todo.md`)"));
        }
        let mut resolved = self.root.clone();
        for component in relative.components() {
            match component {
                Component::Normal(part) => resolved.push(part),
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(format!("`{path}` leaves the workspace (`..` is not allowed)"));
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(format!("`{path}` is not a workspace-relative path"));
                }
            }
        }
        Ok(resolved)
    }

    /// `full` shown relative to the root, for tool output.
    pub fn display(&self, full: &Path) -> String {
        full.strip_prefix(&self.root).unwrap_or(full).to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_under_the_root() {
        let ws = Workspace::default();
        assert_eq!(ws.resolve("a/./b.txt").unwrap(), Path::new("/workspace/a/b.txt"));
        assert_eq!(ws.resolve("").unwrap(), Path::new("/workspace"));
    }

    #[test]
    fn absolute_and_parent_paths_are_refused() {
        let ws = Workspace::default();
        assert!(ws.resolve("/etc/passwd").unwrap_err().contains("absolute"));
        assert!(ws.resolve("a/../../x").unwrap_err().contains(".."));
        assert!(ws.resolve("..").is_err());
    }
}
