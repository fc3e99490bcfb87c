//! Backends and the run-time choice of device.

use std::fmt;
use std::str::FromStr;

use crate::TrainError;

/// burn-ndarray with autodiff: the default CPU training backend. Bit-exact runs need
/// `RAYON_NUM_THREADS=1`.
pub type NdArrayBackend = burn::backend::Autodiff<burn::backend::NdArray>;

/// burn-flex with autodiff: the faster pure-Rust CPU backend (feature `flex`).
#[cfg(feature = "flex")]
pub type FlexBackend = burn::backend::Autodiff<burn::backend::Flex>;

/// burn-cuda with autodiff (feature `cuda`; needs libcuda and a GPU at run time).
#[cfg(feature = "cuda")]
pub type CudaBackend = burn::backend::Autodiff<burn::backend::Cuda>;

/// The device a run asks for, parsed from `native` (the native CPU engine, the default),
/// `ndarray` (or `cpu`: burn-ndarray, as before the native engine), `flex`, `cuda` or `cuda:N`.
///
/// ```
/// use dcl_train::{DeviceKind, TrainEngine};
/// assert_eq!(DeviceKind::default(), DeviceKind::Native);
/// assert_eq!(DeviceKind::Native.engine(), TrainEngine::Native);
/// assert_eq!("cpu".parse::<DeviceKind>().unwrap(), DeviceKind::NdArray);
/// assert_eq!(DeviceKind::NdArray.engine(), TrainEngine::Burn);
/// assert_eq!("cuda:1".parse::<DeviceKind>().unwrap(), DeviceKind::Cuda(1));
/// assert!("tpu".parse::<DeviceKind>().is_err());
/// // The default CPU backend is always there.
/// DeviceKind::NdArray.check().unwrap();
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// The native CPU engine ([`crate::NativeNet`]); networks are built on burn-ndarray.
    #[default]
    Native,
    /// burn-ndarray on the CPU.
    NdArray,
    /// burn-flex on the CPU (feature `flex`).
    Flex,
    /// A CUDA GPU by index (feature `cuda`).
    Cuda(usize),
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Native => f.write_str("native"),
            Self::NdArray => f.write_str("ndarray"),
            Self::Flex => f.write_str("flex"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl FromStr for DeviceKind {
    type Err = TrainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            TrainError::Config(format!(
                "unknown device {s:?} (native, ndarray, flex, cuda, cuda:N)"
            ))
        };
        match s {
            "native" => Ok(Self::Native),
            "cpu" | "ndarray" => Ok(Self::NdArray),
            "flex" => Ok(Self::Flex),
            "cuda" => Ok(Self::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|i| i.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(bad),
        }
    }
}

impl DeviceKind {
    /// The training engine this device means: [`crate::TrainEngine::Native`] for `native`, burn's
    /// own on every burn backend.
    pub fn engine(self) -> crate::TrainEngine {
        match self {
            Self::Native => crate::TrainEngine::Native,
            _ => crate::TrainEngine::Burn,
        }
    }

    /// Checks that this device can be used: its backend was compiled in and, for CUDA, a driver
    /// and a GPU answer. A clear [`TrainError::DeviceUnavailable`] otherwise.
    pub fn check(self) -> Result<(), TrainError> {
        let unavailable = |reason: String| TrainError::DeviceUnavailable {
            device: self.to_string(),
            reason,
        };
        match self {
            Self::Native | Self::NdArray => Ok(()),
            Self::Flex if cfg!(feature = "flex") => Ok(()),
            Self::Flex => Err(unavailable(
                "built without the `flex` feature (cargo ... --features flex)".into(),
            )),
            Self::Cuda(index) => probe_cuda(index).map_err(unavailable),
        }
    }
}

#[cfg(not(feature = "cuda"))]
fn probe_cuda(_index: usize) -> Result<(), String> {
    Err("built without the `cuda` feature (cargo ... --features cuda)".into())
}

/// burn-cuda panics when libcuda or the GPU is missing; the probe turns that into an error.
#[cfg(feature = "cuda")]
fn probe_cuda(index: usize) -> Result<(), String> {
    use burn::backend::Cuda;
    use burn::backend::cuda::CudaDevice;
    use burn::tensor::Tensor;
    std::panic::catch_unwind(|| {
        let device = CudaDevice::new(index);
        Tensor::<Cuda, 1>::ones([4], &device).sum().into_scalar()
    })
    .map(|_| ())
    .map_err(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the CUDA runtime panicked".into());
        format!("no usable CUDA driver or GPU: {msg}")
    })
}
