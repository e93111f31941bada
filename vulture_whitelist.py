"""Names vulture (`vulture`, run in CI: pyproject.toml [tool.vulture]) cannot see used:
called by PyTorch, scikit-learn, Python or matplotlib, or public API for users."""

# PyTorch calls these on its modules; scikit-learn on its estimators.
_.forward  # noqa
_.extra_repr  # noqa
_.inverse_transform  # noqa
_.predict  # noqa
_.history_  # noqa
_.allow_nan  # noqa
input_features  # noqa: scikit-learn's get_feature_names_out signature
set_to_none  # noqa: torch.optim.Optimizer.zero_grad's signature
frame  # noqa: a signal handler's signature
filename  # noqa: warnings.showwarning's signature
lineno  # noqa
_.showwarning  # noqa
_.__signature__  # noqa: what inspect.signature reads (the estimators' parameters)
_.__qualname__  # noqa
_.__annotations__  # noqa
_.frequencies  # noqa: set on a histogram artist for the figure test to read
_.dead_units  # noqa: set on the activity figure: the dead units it numbers, for callers

# Public API: for users, not called inside the package.
_.build  # noqa: AutoEncoder.build
_.squared_error  # noqa: AutoEncoder.squared_error, losses.squared_error
binary_cross_entropy  # noqa
bf16_is_fast  # noqa
clear_cache  # noqa
test_files  # noqa: Dataset.test_files
# The VAE's likelihood (evaluation/likelihood.py): public API, which aekit evaluate and the
# report will call.
iwae_nll  # noqa
elbo  # noqa: the function and ELBO.elbo
_.reconstruction  # noqa: ELBO.reconstruction
kl_per_unit  # noqa
collapse_note  # noqa
