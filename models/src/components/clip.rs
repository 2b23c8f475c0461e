//! CLIP text encoder (transformers' `CLIPTextModel`) as SD 1.5 uses it: token + position
//! embeddings, pre-norm causal transformer layers with quick-GELU MLPs, final layer norm.
//! Field names are transformers' state-dict keys, so `text_encoder/model.safetensors` loads as is.

use crate::kernels::cpu_layers::CpuForward;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{sigmoid, softmax};
use burn::tensor::{Device, Int, Tensor};

/// The shape of a CLIP text encoder (`config.json` of `text_encoder/`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClipTextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
}

fn default_eps() -> f64 {
    1e-5
}

impl ClipTextConfig {
    /// SD 1.5's text encoder: CLIP ViT-L/14.
    pub fn sd15() -> Self {
        Self {
            vocab_size: 49408,
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            max_position_embeddings: 77,
            layer_norm_eps: 1e-5,
        }
    }

    pub fn init(&self, device: &Device) -> ClipTextModel {
        let ln = || LayerNormConfig::new(self.hidden_size).with_epsilon(self.layer_norm_eps).init(device);
        let linear = |i, o| LinearConfig::new(i, o).init(device);
        let layers = (0..self.num_hidden_layers)
            .map(|_| ClipEncoderLayer {
                self_attn: ClipAttention {
                    q_proj: linear(self.hidden_size, self.hidden_size),
                    k_proj: linear(self.hidden_size, self.hidden_size),
                    v_proj: linear(self.hidden_size, self.hidden_size),
                    out_proj: linear(self.hidden_size, self.hidden_size),
                    num_heads: self.num_attention_heads,
                },
                layer_norm1: ln(),
                mlp: ClipMlp {
                    fc1: linear(self.hidden_size, self.intermediate_size),
                    fc2: linear(self.intermediate_size, self.hidden_size),
                },
                layer_norm2: ln(),
            })
            .collect();
        ClipTextModel {
            text_model: ClipTextTransformer {
                embeddings: ClipTextEmbeddings {
                    token_embedding: EmbeddingConfig::new(self.vocab_size, self.hidden_size).init(device),
                    position_embedding: EmbeddingConfig::new(self.max_position_embeddings, self.hidden_size).init(device),
                },
                encoder: ClipEncoder { layers },
                final_layer_norm: ln(),
            },
        }
    }
}

#[derive(Module, Debug)]
pub struct ClipTextModel {
    pub text_model: ClipTextTransformer,
}

#[derive(Module, Debug)]
pub struct ClipTextTransformer {
    pub embeddings: ClipTextEmbeddings,
    pub encoder: ClipEncoder,
    pub final_layer_norm: LayerNorm,
}

#[derive(Module, Debug)]
pub struct ClipTextEmbeddings {
    pub token_embedding: Embedding,
    pub position_embedding: Embedding,
}

#[derive(Module, Debug)]
pub struct ClipEncoder {
    pub layers: Vec<ClipEncoderLayer>,
}

#[derive(Module, Debug)]
pub struct ClipEncoderLayer {
    pub self_attn: ClipAttention,
    pub layer_norm1: LayerNorm,
    pub mlp: ClipMlp,
    pub layer_norm2: LayerNorm,
}

#[derive(Module, Debug)]
pub struct ClipAttention {
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub out_proj: Linear,
    pub num_heads: usize,
}

#[derive(Module, Debug)]
pub struct ClipMlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

impl ClipAttention {
    /// Causal multi-head self-attention over [batch, seq, hidden].
    fn forward(&self, x: Tensor<3>, mask: Tensor<4>) -> Tensor<3> {
        let [b, n, c] = x.dims();
        let h = self.num_heads;
        let d = c / h;
        let heads = |t: Tensor<3>| t.reshape([b, n, h, d]).swap_dims(1, 2);
        let q = heads(self.q_proj.forward_cpu(x.clone())).mul_scalar((d as f64).powf(-0.5));
        let k = heads(self.k_proj.forward_cpu(x.clone()));
        let v = heads(self.v_proj.forward_cpu(x));
        let weights = softmax(q.matmul(k.swap_dims(2, 3)) + mask, 3);
        let out = weights.matmul(v).swap_dims(1, 2).reshape([b, n, c]);
        self.out_proj.forward_cpu(out)
    }
}

fn quick_gelu(x: Tensor<3>) -> Tensor<3> {
    x.clone() * sigmoid(x.mul_scalar(1.702))
}

impl ClipTextModel {
    /// Hidden states for token ids [batch, 77]. `clip_skip` counts as A1111 does: 1 is the last
    /// layer (SD 1.5's default), 2 the one before; the result always passes the final layer norm.
    pub fn forward(&self, ids: Tensor<2, Int>, clip_skip: usize) -> Tensor<3> {
        let tm = &self.text_model;
        let [b, n] = ids.dims();
        let device = ids.device();
        let positions = Tensor::<1, Int>::arange(0..n as i64, &device).reshape([1, n]).repeat_dim(0, b);
        let mut x = tm.embeddings.token_embedding.forward(ids) + tm.embeddings.position_embedding.forward(positions);
        // Causal mask: a token sees itself and what comes before it.
        let mask = Tensor::<2>::full([n, n], f32::NEG_INFINITY, &device).triu(1).reshape([1, 1, n, n]);
        let layers = &tm.encoder.layers;
        let run = layers.len() + 1 - clip_skip.clamp(1, layers.len());
        for layer in &layers[..run] {
            let residual = x.clone();
            x = residual + layer.self_attn.forward(layer.layer_norm1.forward(x), mask.clone());
            let residual = x.clone();
            x = residual + layer.mlp.fc2.forward_cpu(quick_gelu(layer.mlp.fc1.forward_cpu(layer.layer_norm2.forward(x))));
        }
        tm.final_layer_norm.forward(x)
    }
}
