"""Datasets of pitched 4 s notes and the tf.data pipeline that feeds training.

Every dataset yields (wave [64000, 1], one_hot [num_pitches]) and has
Magenta's methods (provide_dataset, get_pitch_counts, provide_one_hot_labels).
"""
