//! Device tensors: `WgpuTensor`, a range of a pooled device buffer (the whole of one, or one of
//! a group made together by `TensorOps::zeros_many`), and the check that a group of groups
//! shares one layout, so one elementwise kernel updates all of them (the optimiser's step).

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex};

/// A device-resident `[rows, cols]` f32 tensor: a range of a device buffer, the whole of one or
/// a view into a group laid out together
/// ([`TensorOps::zeros_many`](ae_backend::ops::TensorOps::zeros_many)).
pub struct WgpuTensor {
    pub(crate) storage: Arc<SharedBuffer>,
    /// Byte offset of element 0 in the buffer (a multiple of the storage offset alignment).
    pub(crate) offset: u64,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

impl WgpuTensor {
    /// The buffer the tensor lies in (shared with the rest of its group).
    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        self.storage.buffer()
    }
    pub(crate) fn len(&self) -> usize {
        self.rows * self.cols
    }
    /// Bytes bound for the tensor: its elements, at least one.
    pub(crate) fn bytes(&self) -> u64 {
        (self.len() as u64 * 4).max(4)
    }
    /// The tensor's range of its buffer, as a shader binds it.
    pub(crate) fn binding(&self) -> wgpu::BindingResource<'_> {
        wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: self.buffer(),
            offset: self.offset,
            size: NonZeroU64::new(self.bytes()),
        })
    }
}

/// A buffer and the number of tensors laid out in it; back to the pool when the last drops.
pub(crate) struct SharedBuffer {
    pub(crate) buffer: Option<wgpu::Buffer>,
    /// Tensors made in it (1 for a tensor of its own).
    pub(crate) views: usize,
    pub(crate) pool: Arc<Mutex<BufferPool>>,
}

impl SharedBuffer {
    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("a live tensor has a buffer")
    }
}

impl Drop for SharedBuffer {
    fn drop(&mut self) {
        if let (Some(b), Ok(mut pool)) = (self.buffer.take(), self.pool.lock()) {
            pool.put(b);
        }
    }
}

/// The one buffer under every tensor of `lists` when each list is a whole group made by
/// [`TensorOps::zeros_many`](ae_backend::ops::TensorOps::zeros_many) and all have one layout
/// (same offsets and lengths, in order), so an elementwise kernel over the buffers updates
/// every tensor at once: the buffers, in `lists`' order, and their length in elements. Padding
/// between tensors is zero in every buffer (nothing writes there), which the optimiser kernels
/// keep at zero.
pub(crate) fn one_layout<'a>(lists: &[&'a [WgpuTensor]]) -> Option<(Vec<&'a wgpu::Buffer>, usize)> {
    let first = lists.first()?;
    let head = first.first()?;
    let mut buffers = Vec::with_capacity(lists.len());
    for list in lists {
        let storage = &list.first()?.storage;
        let whole = list.len() == first.len()
            && storage.views == list.len()
            && storage.buffer().size() == head.buffer().size()
            && list.iter().zip(first.iter()).all(|(t, f)| {
                Arc::ptr_eq(&t.storage, storage)
                    && (t.offset, t.rows * t.cols) == (f.offset, f.rows * f.cols)
            });
        if !whole {
            return None;
        }
        buffers.push(storage.buffer());
    }
    Some((buffers, (head.buffer().size() / 4) as usize))
}

/// Free buffers by size, for reuse.
#[derive(Default)]
pub(crate) struct BufferPool {
    free: HashMap<u64, Vec<wgpu::Buffer>>,
}

impl BufferPool {
    pub(crate) fn take(&mut self, size: u64) -> Option<wgpu::Buffer> {
        self.free.get_mut(&size).and_then(Vec::pop)
    }
    pub(crate) fn put(&mut self, b: wgpu::Buffer) {
        self.free.entry(b.size()).or_default().push(b);
    }
}

/// Two of a dispatch's tensor bindings (by name) that are ranges of one buffer, one read-only
/// and one writable: wgpu refuses a buffer bound both ways in one dispatch.
/// `tensors` is walked twice and never collected: the check runs on every dispatch.
pub(crate) fn shared_writable<'a>(
    tensors: impl Iterator<Item = (&'a WgpuTensor, &'a crate::kernels::Binding)> + Clone,
) -> Option<(&'static str, &'static str)> {
    tensors.clone().enumerate().find_map(|(i, (t, a))| {
        tensors.clone().skip(i + 1).find_map(|(u, b)| {
            let clash = Arc::ptr_eq(&t.storage, &u.storage) && a.writable != b.writable;
            clash.then_some((a.name, b.name))
        })
    })
}
