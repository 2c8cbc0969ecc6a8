//! Deployment workspaces: one directory each, reached by the host only through
//! cap-std so a symlink planted by a guest can never lead the host outside it.

use std::io;
use std::path::{Component, Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

/// Where workspaces live under the data directory.
pub fn root(data_dir: &Path) -> PathBuf {
    data_dir.join("workspaces")
}

/// The host directory of one deployment's workspace.
pub fn path(data_dir: &Path, deployment_id: &str) -> PathBuf {
    root(data_dir).join(deployment_id)
}

/// Creates the workspace directory and opens it as a capability.
pub fn create(dir: &Path) -> io::Result<Dir> {
    std::fs::create_dir_all(dir)?;
    Dir::open_ambient_dir(dir, ambient_authority())
}

/// Opens an existing workspace as a capability.
pub fn open(dir: &Path) -> io::Result<Dir> {
    Dir::open_ambient_dir(dir, ambient_authority())
}

/// Checks a workspace-relative path: relative, no `..`, not empty. Returns it normalised.
pub fn relative(path: &str) -> Result<PathBuf, String> {
    // What any filesystem takes: no NUL, 255 bytes a name, 4 KiB a path. Past these
    // the OS fails the call, which would surface as the server's error.
    if path.contains('\0') {
        return Err("path contains a NUL byte".into());
    }
    if path.len() > MAX_PATH {
        return Err(format!("path is {} bytes long; at most {MAX_PATH}", path.len()));
    }
    if let Some(long) = path.split('/').find(|c| c.len() > MAX_NAME) {
        return Err(format!("a path component is {} bytes long; at most {MAX_NAME}", long.len()));
    }
    let trimmed = path.trim_start_matches("/workspace/").trim_start_matches("./");
    let p = Path::new(trimmed);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(format!("path {path:?} leaves the workspace (`..`)")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("path {path:?} must be relative to the workspace"));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err("path is empty".into());
    }
    Ok(out)
}

/// Longest workspace-relative path accepted.
pub const MAX_PATH: usize = 4096;
/// Longest file or folder name accepted.
pub const MAX_NAME: usize = 255;

/// Reads a UTF-8 file of at most `max` bytes: the read itself stops past `max`, so a
/// file that grows (or lies in its metadata) never costs more than that in memory.
pub fn read_bounded(dir: &Dir, rel: impl AsRef<Path>, max: u64) -> io::Result<String> {
    use std::io::Read as _;
    let mut file = dir.open(rel.as_ref())?;
    let mut bytes = Vec::new();
    file.by_ref().take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("larger than {max} bytes")));
    }
    String::from_utf8(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// Writes a file inside the workspace, creating parent directories.
pub fn write(dir: &Dir, rel: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
        dir.create_dir_all(parent)?;
    }
    dir.write(rel, bytes)
}

#[cfg(test)]
mod tests {
    use super::relative;

    #[test]
    fn relative_paths_stay_inside() {
        assert_eq!(relative("a/b.txt").unwrap().to_str(), Some("a/b.txt"));
        assert_eq!(relative("/workspace/a").unwrap().to_str(), Some("a"));
        assert!(relative("../x").is_err());
        assert!(relative("a/../../x").is_err());
        assert!(relative("/etc/passwd").is_err());
        assert!(relative("").is_err());
    }
}
