//! Threads: comments in reading order with their nesting depth.
use std::collections::{HashMap, HashSet};

/// Replies nest visually up to this many levels (depth 0, 1, 2).
pub const MAX_LEVELS: usize = 3;

/// Anything that sits in a thread.
pub trait Threaded {
    fn id(&self) -> i64;
    fn parent_id(&self) -> Option<i64>;
}

/// Where a reply to a comment at `parent_depth` goes: under the parent, or,
/// past the deepest level, beside it (under the parent's own parent).
/// Returns the depth of the new comment.
pub fn reply_depth(parent_depth: usize) -> usize {
    (parent_depth + 1).min(MAX_LEVELS - 1)
}

/// Orders comments as threads: each top-level comment (oldest first), then
/// its replies depth-first, oldest first. Comments whose parent is not in
/// the list start their own thread. Returns (depth, comment) pairs grouped
/// by thread.
pub fn threads<T: Threaded>(mut comments: Vec<T>) -> Vec<Vec<(usize, T)>> {
    comments.sort_by_key(|c| c.id());
    let ids: HashSet<i64> = comments.iter().map(|c| c.id()).collect();
    let mut children: HashMap<i64, Vec<T>> = HashMap::new();
    let mut roots: Vec<T> = Vec::new();
    for c in comments {
        match c.parent_id().filter(|p| ids.contains(p)) {
            Some(parent) => children.entry(parent).or_default().push(c),
            None => roots.push(c),
        }
    }
    let mut out = Vec::with_capacity(roots.len());
    for root in roots {
        let mut thread = Vec::new();
        let mut stack: Vec<(usize, T)> = vec![(0, root)];
        while let Some((depth, c)) = stack.pop() {
            if let Some(mut kids) = children.remove(&c.id()) {
                kids.reverse();
                let child_depth = (depth + 1).min(MAX_LEVELS - 1);
                stack.extend(kids.into_iter().map(|k| (child_depth, k)));
            }
            thread.push((depth, c));
        }
        out.push(thread);
    }
    out
}

/// The comments of a shared page as (id, parent), in the order shown,
/// with the page's number and the article's threads in all.
#[derive(Debug, Clone, Default)]
pub struct ListedThreads {
    pub items: Vec<(i64, Option<i64>)>,
    pub threads: usize,
    pub page: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct C(i64, Option<i64>);
    impl Threaded for C {
        fn id(&self) -> i64 {
            self.0
        }
        fn parent_id(&self) -> Option<i64> {
            self.1
        }
    }

    #[test]
    fn threads_in_reading_order_with_capped_depth() {
        let comments = vec![
            C(5, Some(2)),
            C(1, None),
            C(2, Some(1)),
            C(3, None),
            C(4, Some(1)),
            C(6, Some(5)),
            C(7, Some(99)),
        ];
        let t = threads(comments);
        let shape: Vec<Vec<(usize, i64)>> = t
            .iter()
            .map(|th| th.iter().map(|(d, c)| (*d, c.0)).collect())
            .collect();
        assert_eq!(
            shape,
            vec![
                vec![(0, 1), (1, 2), (2, 5), (2, 6), (1, 4)],
                vec![(0, 3)],
                vec![(0, 7)],
            ]
        );
        assert_eq!(reply_depth(0), 1);
        assert_eq!(reply_depth(2), 2);
    }
}
