"""Stimulus movies, protocols and the retina/LGN front end (numpy + scipy, never brian2).

Modules
-------
params
    Frozen parameter dataclasses with cited sources (macaque parafoveal default, mouse).
movies
    Stimuli in contrast units and :class:`StimulusMovie`.
protocols
    :class:`Protocol` (epochs rendered lazily) and the builders of the standard sets.
retina
    Kernel builders: difference of Gaussians, biphasic temporal kernel.
lgn
    ON/OFF mosaics and the block-wise linear–nonlinear model.
spike_generation
    Inhomogeneous Poisson spikes → :class:`analysis.spiketrains.SpikeTrains`.

Units: deg, s, Hz, cycles/deg (plain floats).
"""

from stimuli.lgn import (
    POPULATIONS,
    LGNFilter,
    LGNMosaic,
    apply_nonlinearity,
    build_lgn_mosaic,
    default_time_step,
    iter_lgn_drive,
    iter_lgn_rates,
    lgn_drive,
    lgn_rates,
)
from stimuli.movies import (
    STIMULUS_TYPES,
    BinaryNoise,
    Blank,
    Edge,
    FlashedBar,
    FullFieldFlash,
    GaussianNoise,
    CenterSurroundGrating,
    Grating,
    MovingBar,
    NaturalImage,
    SparseNoise,
    Stimulus,
    StimulusGrid,
    StimulusMovie,
    check_frame_duration,
    make_stimulus,
)
from stimuli.params import (
    DEFAULT_LGN,
    MACAQUE_PARAFOVEAL,
    MACAQUE_PARAFOVEAL_MAGNO_PARVO,
    MAGNO,
    MOUSE,
    PARVO,
    ChannelParams,
    LGNParams,
    NonlinearityParams,
    SpatialParams,
    SpikeParams,
    TemporalParams,
)
from stimuli.protocols import (
    Epoch,
    Protocol,
    blank_protocol,
    context_protocol,
    edge_protocol,
    natural_image_protocol,
    orientation_tuning_protocol,
    sparse_noise_protocol,
    variability_protocol,
)
from stimuli.retina import (
    biphasic_temporal_kernel,
    difference_of_gaussians_kernel,
    dog_peak_frequency,
    dog_transfer_function,
    temporal_kernel_function,
)
from stimuli.spike_generation import (
    generate_lgn_spikes,
    inhomogeneous_poisson,
    iter_lgn_spikes,
    lgn_node_tables,
)

__all__ = [
    # params
    "SpatialParams", "TemporalParams", "NonlinearityParams", "ChannelParams", "SpikeParams", "LGNParams",
    "PARVO", "MAGNO", "MACAQUE_PARAFOVEAL", "MACAQUE_PARAFOVEAL_MAGNO_PARVO", "MOUSE", "DEFAULT_LGN",
    # movies
    "Stimulus", "StimulusGrid", "StimulusMovie", "Grating", "CenterSurroundGrating", "FlashedBar", "MovingBar", "Edge",
    "SparseNoise", "BinaryNoise", "GaussianNoise", "FullFieldFlash", "Blank", "NaturalImage",
    "STIMULUS_TYPES", "make_stimulus", "check_frame_duration",
    # protocols
    "Epoch", "Protocol", "orientation_tuning_protocol", "edge_protocol", "context_protocol", "variability_protocol",
    "sparse_noise_protocol", "natural_image_protocol", "blank_protocol",
    # retina
    "difference_of_gaussians_kernel", "dog_transfer_function", "dog_peak_frequency",
    "biphasic_temporal_kernel", "temporal_kernel_function",
    # lgn
    "POPULATIONS", "LGNMosaic", "build_lgn_mosaic", "LGNFilter", "default_time_step", "iter_lgn_drive",
    "iter_lgn_rates", "lgn_drive", "lgn_rates", "apply_nonlinearity",
    # spikes
    "inhomogeneous_poisson", "iter_lgn_spikes", "generate_lgn_spikes", "lgn_node_tables",
]
