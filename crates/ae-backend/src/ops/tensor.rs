//! Device memory: allocation, host <-> device copies, shapes and synchronisation.

use crate::{Element, Error, Matrix, Result};

/// The base of every backend: its scalar, its tensor type and device memory.
///
/// A tensor is a device-resident `[rows, cols]` row-major matrix (rows = samples). Ops write
/// into outputs the caller allocated once, so a training step allocates nothing; they return no
/// errors: a device failure surfaces at the next [`TensorOps::download`] or
/// [`TensorOps::sync`].
pub trait TensorOps: Send + Sync {
    /// The scalar type the backend computes in.
    type Elem: Element;
    /// A device-resident `[rows, cols]` row-major tensor.
    type Tensor: Send + Sync;

    /// A human-readable description: backend, device, precision.
    fn name(&self) -> String;
    /// A new `[rows, cols]` tensor of zeros.
    fn zeros(&self, rows: usize, cols: usize) -> Result<Self::Tensor>;
    /// New zeroed tensors of `shapes` that are updated together (a model's parameters, their
    /// gradients, an optimiser's moments). A backend may lay them out in one allocation (wgpu
    /// does, so that [`crate::ops::OptimOps::adam_step_all`] is one kernel over all of them);
    /// each is still a tensor of its own shape. By default, one [`TensorOps::zeros`] each.
    fn zeros_many(&self, shapes: &[(usize, usize)]) -> Result<Vec<Self::Tensor>> {
        shapes.iter().map(|&(r, c)| self.zeros(r, c)).collect()
    }
    /// Copies a host matrix to the device: `[rows, cols]`.
    fn upload(&self, m: &Matrix) -> Result<Self::Tensor>;
    /// Copies a host matrix into an existing tensor of its shape (`[rows, cols]`), as
    /// [`TensorOps::upload`] without the allocation; a shape that differs is an error.
    fn write(&self, m: &Matrix, dst: &mut Self::Tensor) -> Result<()>;
    /// Copies f64 host values to the device (rounded to [`TensorOps::Elem`]): `[rows, cols]`.
    fn upload_f64(&self, rows: usize, cols: usize, data: &[f64]) -> Result<Self::Tensor>;
    /// Copies a tensor back to the host as f32.
    fn download(&self, t: &Self::Tensor) -> Result<Matrix>;
    /// Copies a tensor back to the host as f64 (exact for f32 and f64 backends).
    fn download_f64(&self, t: &Self::Tensor) -> Result<Vec<f64>>;
    /// `[rows, cols]` of a tensor.
    fn shape(&self, t: &Self::Tensor) -> (usize, usize);
    /// Waits for all queued work; reports a device failure.
    fn sync(&self) -> Result<()>;

    /// Kernels launched so far, by name, where the backend counts them (wgpu: the compute
    /// dispatches recorded for each entry point; empty where nothing is counted), to measure
    /// how many a training step takes.
    fn dispatch_counts(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// Waits for queued work, then times every kernel until [`Self::finish_profile`]
    /// (`ae bench --profile`); false where the backend cannot. Profiling may slow the work it
    /// times (a GPU waits for each submission's timestamps).
    fn start_profile(&self) -> Result<bool> {
        Ok(false)
    }

    /// Waits for queued work, stops timing and returns each kernel's totals since
    /// [`Self::start_profile`] (`None` when it was not profiling).
    fn finish_profile(&self) -> Result<Option<crate::Profile>> {
        Ok(None)
    }
}

/// The error [`TensorOps::write`] gives when `m` is not of the tensor's `shape`.
pub fn check_write(m: &Matrix, shape: (usize, usize)) -> Result<()> {
    if (m.rows, m.cols) != shape {
        return Err(Error::Shape(format!(
            "writing a [{}, {}] matrix into a [{}, {}] tensor",
            m.rows, m.cols, shape.0, shape.1
        )));
    }
    Ok(())
}
