//! The accounts `check` judges access for: users and groups from /etc/passwd and /etc/group
//! (`Accounts`), the user running the process from /proc/self/status, and whether an
//! `Identity` has a permission on a file from its owner, group and mode bits. `init-db
//! --owner` resolves its user name here too.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt as _;

/// Permission bits, as in a mode's owner, group or other triple.
pub(super) const READ: u32 = 4;
pub(super) const WRITE: u32 = 2;
/// Search for a directory, execute for a file.
pub(super) const SEARCH: u32 = 1;

/// The accounts of this system: /etc/passwd and /etc/group, read once.
#[derive(Debug, Default)]
pub(crate) struct Accounts {
    pub(super) passwd: String,
    pub(super) group: String,
}

impl Accounts {
    /// Reads /etc/passwd and /etc/group; a missing file leaves that table empty.
    pub(crate) fn load() -> Accounts {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        Accounts { passwd: read("/etc/passwd"), group: read("/etc/group") }
    }

    /// The user called `name`: uid, primary group and every group that lists it as a member.
    pub(crate) fn user(&self, name: &str) -> Option<Identity> {
        let (uid, gid) = self.passwd.lines().find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() >= 4 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
        })?;
        let mut gids = vec![gid];
        for line in self.group.lines() {
            let f: Vec<&str> = line.split(':').collect();
            let Some(Ok(g)) = f.get(2).map(|g| g.parse::<u32>()) else { continue };
            if f.get(3).is_some_and(|members| members.split(',').any(|m| m == name)) && !gids.contains(&g) {
                gids.push(g);
            }
        }
        Some(Identity { name: name.to_owned(), uid, gids })
    }

    /// The user this process runs as: the effective uid and the groups from
    /// /proc/self/status (`Uid:`, `Gid:`, `Groups:`), named from /etc/passwd.
    pub(crate) fn current(&self) -> Option<Identity> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        self.process(&status)
    }

    pub(super) fn process(&self, status: &str) -> Option<Identity> {
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_default();
        // `Uid:` and `Gid:` list real, effective, saved and filesystem ids; access uses the last.
        let uid: u32 = field("Uid:").split_whitespace().nth(3)?.parse().ok()?;
        let gid: u32 = field("Gid:").split_whitespace().nth(3)?.parse().ok()?;
        let mut gids = vec![gid];
        gids.extend(field("Groups:").split_whitespace().filter_map(|g| g.parse::<u32>().ok()).filter(|g| *g != gid));
        Some(Identity { name: self.user_name(uid), uid, gids })
    }

    pub(super) fn user_name(&self, uid: u32) -> String {
        name_of(&self.passwd, uid).unwrap_or_else(|| format!("uid {uid}"))
    }

    pub(super) fn group_name(&self, gid: u32) -> String {
        name_of(&self.group, gid).unwrap_or_else(|| format!("gid {gid}"))
    }

    /// `owner root, group www-data, mode 0640`, for messages.
    pub(super) fn describe(&self, meta: &Metadata) -> String {
        format!(
            "owner {}, group {}, mode {:04o}",
            self.user_name(meta.uid()),
            self.group_name(meta.gid()),
            meta.mode() & 0o7777
        )
    }
}

/// The name of id `id` in a passwd- or group-shaped table.
fn name_of(table: &str, id: u32) -> Option<String> {
    table.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 3 && f[2].parse() == Ok(id)).then(|| f[0].to_owned())
    })
}

/// A user as the kernel sees it when it checks file permissions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) name: String,
    pub(crate) uid: u32,
    /// The primary group first, then the supplementary ones.
    pub(crate) gids: Vec<u32>,
}

impl Identity {
    /// Whether this user has every permission in `want` on a file with `meta`: the owner
    /// triple if it owns the file, else the group triple if it is in the file's group, else
    /// the other triple (POSIX.1-2017 §4.5, without ACLs). Root may read and write anything
    /// and search any directory.
    pub(super) fn may(&self, meta: &Metadata, want: u32) -> bool {
        self.may_mode(meta.uid(), meta.gid(), meta.mode(), meta.is_dir(), want)
    }

    pub(super) fn may_mode(&self, owner: u32, group: u32, mode: u32, is_dir: bool, want: u32) -> bool {
        if self.uid == 0 {
            return want & SEARCH == 0 || is_dir || mode & 0o111 != 0;
        }
        let bits = if owner == self.uid {
            mode >> 6
        } else if self.gids.contains(&group) {
            mode >> 3
        } else {
            mode
        };
        bits & want == want
    }
}
