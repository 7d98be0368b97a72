//! A handle to state shared between calls, with or without a heap.

use core::fmt;
use core::ops::Deref;

#[cfg(feature = "alloc")]
use alloc::sync::Arc;

/// A shared, immutable handle: a `&'static` reference (always available, for
/// `no_std` targets without an allocator) or an `Arc` (with `alloc`).
///
/// Both variants exist side by side, so enabling `alloc` never changes a type
/// that code without it relies on.
///
/// ```
/// use redress_core::Shared;
///
/// static LIMITS: [u32; 2] = [1, 2];
/// let s: Shared<[u32]> = Shared::from(&LIMITS[..]);
/// assert_eq!(s.len(), 2);
/// ```
pub enum Shared<T: ?Sized + 'static> {
    /// A reference that lives for the whole program.
    Static(&'static T),
    /// A reference-counted heap allocation.
    #[cfg(feature = "alloc")]
    Arc(Arc<T>),
}

impl<T: ?Sized> Clone for Shared<T> {
    fn clone(&self) -> Self {
        match self {
            Shared::Static(r) => Shared::Static(r),
            #[cfg(feature = "alloc")]
            Shared::Arc(a) => Shared::Arc(Arc::clone(a)),
        }
    }
}

impl<T: ?Sized> Deref for Shared<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        match self {
            Shared::Static(r) => r,
            #[cfg(feature = "alloc")]
            Shared::Arc(a) => a,
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized> From<&'static T> for Shared<T> {
    fn from(r: &'static T) -> Self {
        Shared::Static(r)
    }
}

#[cfg(feature = "alloc")]
impl<T: ?Sized> From<Arc<T>> for Shared<T> {
    fn from(a: Arc<T>) -> Self {
        Shared::Arc(a)
    }
}

#[cfg(feature = "alloc")]
impl<T> From<alloc::vec::Vec<T>> for Shared<[T]> {
    fn from(v: alloc::vec::Vec<T>) -> Self {
        Shared::Arc(Arc::from(v))
    }
}
