"""
Greedy layer-wise pretraining
=============================

Before deep networks trained well end to end, Hinton & Salakhutdinov (2006) and Bengio et
al. (2007) trained them one layer at a time: each layer an autoencoder of the codes of the
layer below (here a denoising one, as in stacked denoising autoencoders), then the stack
unrolled into a deep autoencoder and fine-tuned end to end. aekit does both; this compares
the two starts on the same 64-48-32-8 network and the same fine-tuning.
"""

# %%
import matplotlib.pyplot as plt

import aekit

data = aekit.load_digits()
config = aekit.model_config("undercomplete", input_dim=64, hidden=[48, 32], code_dim=8)

model, layers = aekit.pretrain_greedy(
    config,
    data.train,
    aekit.PretrainConfig(epochs=30, corruption=aekit.Masking(0.25)),
    aekit.TrainConfig(seed=0),
    progress=False,
)
for layer in layers:
    print(
        f"layer {layer.index}: {layer.sizes[0]}->{layer.sizes[1]}, error of its input "
        f"{layer.error_before:.3f} -> {layer.error_after:.3f}"
    )
pretrained = aekit.fit(model, data.train, epochs=60, val=data.test, progress=False)

scratch_model = aekit.AutoEncoder.from_config(config, seed=0)
scratch = aekit.fit(scratch_model, data.train, epochs=60, val=data.test, progress=False)
print(
    f"after fine-tuning: pretrained {aekit.evaluate(model, data.test)['squared_error']:.3f}, "
    f"from random weights {aekit.evaluate(scratch_model, data.test)['squared_error']:.3f}"
)

# %%
# Held-out error during the end-to-end training: the pretrained stack starts lower.
fig, ax = plt.subplots(figsize=(6, 3.4))
for name, result in [
    ("greedy pretraining, then end to end", pretrained),
    ("end to end from random weights", scratch),
]:
    ax.plot([row["val_loss"] for row in result.history], label=name)
ax.set_yscale("log")
ax.set_xlabel("epoch of end-to-end training")
ax.set_ylabel("held-out loss per image (squared error)")
ax.legend()
fig.tight_layout()
plt.show()
