"""Magenta's GANSynth hyperparameters and their defaults.

The keys are exactly those of Magenta's `experiment.json` (its
`model.set_flags` defaults, before a config such as `mel_prog_hires`
overrides them). Training binds them in gin as `hparams.<name>`; checkpoint
import fills keys an old experiment.json lacks from the same table.
"""

MAGENTA_DEFAULTS = {
    'train_root_dir': '/tmp/gansynth/train',
    'train_data_path': '/tmp/gansynth/nsynth-train.tfrecord',
    # Dataset.
    'dataset_name': 'nsynth_tfds',
    'data_type': 'mel',
    'audio_length': 64000,
    'sample_rate': 16000,
    'data_normalizer': 'specgrams_prespecified_normalizer',
    'normalizer_margin': 0.8,
    'normalizer_num_examples': 1000,
    'mag_normalizer_a': 0.0661371661726,
    'mag_normalizer_b': 0.113718730221,
    'p_normalizer_a': 0.8,
    'p_normalizer_b': 0.,
    # Losses.
    'gradient_penalty_target': 1.0,
    'gradient_penalty_weight': 10.0,
    'real_score_penalty_weight': 0.001,
    'generator_ac_loss_weight': 1.0,
    'discriminator_ac_loss_weight': 1.0,
    'gen_gl_consistency_loss_weight': 0.0,
    # Optimization.
    'generator_learning_rate': 0.0004,
    'discriminator_learning_rate': 0.0004,
    'adam_beta1': 0.0,
    'adam_beta2': 0.99,
    'fake_batch_size': 16,
    # Distributed training (kept for the experiment.json format only).
    'master': '',
    'ps_tasks': 0,
    'task': 0,
    'debug_hook': False,
    # Progressive training.
    'batch_size_schedule': [16, 8],
    'stable_stage_num_images': 32,
    'transition_stage_num_images': 32,
    'total_num_images': 320,
    'save_summaries_num_images': 100,
    'train_progressive': True,
    'train_time_limit': None,
    'train_time_stage_multiplier': 1.,
    # Architecture.
    'g_fn': 'specgram',
    'd_fn': 'specgram',
    'latent_vector_size': 256,
    'kernel_size': 3,
    'start_height': 4,
    'start_width': 8,
    'scale_mode': 'ALL',
    'scale_base': 2,
    'num_resolutions': 7,
    'simple_arch': False,
    'to_rgb_activation': 'tanh',
    'fmap_base': 512,
    'fmap_decay': 1.0,
    'fmap_max': 128,
}
