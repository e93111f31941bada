"""core: what every layer stands on and nothing of autoencoders: the errors, registries
by name, the typed-dataclass schema and the configs' shared machinery (``core.config``:
validation, the JSON round trip, field metadata, help text), atomic and checked files,
the one seeding rule, a nested state <-> one safetensors file, and the version.

May import only the standard library and third-party packages; never another aekit
layer (data, models, training, evaluation, runs, cli, sklearn).
"""
