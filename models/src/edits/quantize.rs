//! Quantising a loaded model's weights to int8/int4 blocks (the format of
//! [`crate::kernels::quantize`]), laid out for the CPU's integer kernels.

use burn::tensor::{DType, Tensor};

use crate::kernels::int8::cpu_layout;
use crate::kernels::quantize::{quantized, Bits};

/// Every weight of `module` that is a whole number of blocks (Linear, conv and embedding weights)
/// quantised to `bits`, on the module's device; biases and norms stay float. A ControlNet kept
/// this way takes a quarter of its f32 memory.
pub fn quantize_module<M: burn::module::Module>(module: M, bits: Bits) -> M {
    struct Quantize(Bits);
    impl burn::module::ModuleMapper for Quantize {
        fn map_float<const D: usize>(&mut self, param: burn::module::Param<Tensor<D>>) -> burn::module::Param<Tensor<D>> {
            let tensor = param.val();
            if matches!(tensor.dtype(), DType::QFloat(_)) {
                return param;
            }
            burn::module::Param::initialized(param.id, quantized(tensor, self.0))
        }
    }
    cpu_layout(module.map(&mut Quantize(bits)))
}
