"""The soundfont renderer, run for real: fluidsynth on TimGM6mb.sf2."""
import json
import os
import subprocess
import sys

import librosa
import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf2.data import nsynth
from gansynth_tf2.data import schema
from gansynth_tf2.data import soundfont

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SF2 = '/usr/share/sounds/sf2/TimGM6mb.sf2'  # Debian's timgm6mb-soundfont.
PROGRAMS = (0, 73)  # acoustic grand piano, flute
PITCHES = (36, 60, 79)


def _tool(args, **kwargs):
  return subprocess.run([sys.executable,
                         os.path.join(ROOT, 'tools', 'render_soundfont.py')]
                        + args, capture_output=True, text=True, check=False,
                        **{'timeout': 300, **kwargs})


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
  out = tmp_path_factory.mktemp('render')
  # 36,60,79 written with a step range; --gain and --num_workers are
  # checked by test_tool_step_syntax_gain_and_workers.
  proc = _tool([f'--sf2={SF2}', '--programs=0,73', '--pitches=36-60:24,79',
                '--velocities=100', f'--output_dir={out}', '--num_shards=2',
                '--gain=0.5', '--num_workers=1'])
  assert proc.returncode == 0, proc.stderr[-3000:]
  return out, proc.stdout


def test_writes_sharded_nsynth_records_and_manifest(rendered):
  out, stdout = rendered
  assert 'Rendered 6 notes' in stdout
  assert sorted(os.listdir(out)) == ['manifest.json',
                                     'train.tfrecord-00000-of-00002',
                                     'train.tfrecord-00001-of-00002']
  manifest = json.loads((out / 'manifest.json').read_text())
  assert manifest['num_examples'] == 6 and not manifest['rejected']
  assert manifest['pitch_counts'] == {'36': 2, '60': 2, '79': 2}
  parsed = list(tf.data.TFRecordDataset(
      sorted(str(p) for p in out.glob('*.tfrecord*'))).map(
          nsynth.parse_example).as_numpy_iterator())
  names = sorted(p['note_str'].decode() for p in parsed)
  assert names[0] == 'flute_acoustic_073-036-100'
  assert names[-1] == 'keyboard_acoustic_000-079-100'
  for p in parsed:
    assert p['audio'].shape == (64000,)
    assert p['instrument_source'] == 0
    family = schema.INSTRUMENT_FAMILIES[p['instrument_family']]
    assert family in ('flute', 'keyboard')


def test_rendered_pitch_matches_within_a_quarter_semitone(rendered):
  out, _ = rendered
  ds = nsynth.PreparedDataset(str(out))
  count = 0
  for wave, label in ds.provide_dataset().as_numpy_iterator():
    pitch = int(label.argmax()) + 24
    wave = wave[:, 0]
    # Sounding during the note and faded by the end of the 4 s.
    assert np.abs(wave[:16000]).max() > 0.01
    assert np.abs(wave[:48000]).max() > 10 * np.abs(wave[-1600:]).max()
    f0, voiced, _ = librosa.pyin(wave[:32000], fmin=librosa.midi_to_hz(24),
                                 fmax=librosa.midi_to_hz(96), sr=16000,
                                 frame_length=2048, resolution=0.25)
    measured = librosa.hz_to_midi(np.median(f0[voiced]))
    print(f'pitch {pitch}: pYIN {measured:.2f}')
    # pYIN hears the asked pitch (measured: exact); a quarter semitone still
    # catches a transposition by one (or a detuned render).
    assert abs(measured - pitch) <= 0.25, (pitch, measured)
    count += 1
  assert count == 6
  assert ds.get_pitch_counts()[60] == 2


def test_resumes_after_interruption(tmp_path, monkeypatch):
  real = soundfont.render_notes
  calls = []

  def flaky(sf2, program, *args, **kwargs):
    calls.append(program)
    if program == 40:
      raise KeyboardInterrupt  # as if the user stopped the run here
    return real(sf2, program, *args, **kwargs)

  monkeypatch.setattr(soundfont, 'render_notes', flaky)
  with pytest.raises(KeyboardInterrupt):
    soundfont.render_soundfont(tmp_path, [0, 40], [60], sf2=SF2, num_workers=1,
                               progress=False)
  assert not list(tmp_path.glob('*.tfrecord*'))  # nothing half written
  assert os.listdir(tmp_path / '.render_cache') == ['p000_v100.npz']
  monkeypatch.setattr(soundfont, 'render_notes', real)
  manifest = soundfont.render_soundfont(tmp_path, [0, 40], [60], sf2=SF2,
                                        num_workers=1, progress=False)
  assert manifest['chunks_reused'] == 1 and manifest['num_examples'] == 2
  assert not (tmp_path / '.render_cache').exists()
  # Once complete, a rerun renders nothing; other arguments render again.
  monkeypatch.setattr(soundfont, 'render_notes', flaky)
  again = soundfont.render_soundfont(tmp_path, [0, 40], [60], sf2=SF2,
                                     progress=False)
  assert again['accepted'] == manifest['accepted']
  with pytest.raises(KeyboardInterrupt):
    soundfont.render_soundfont(tmp_path, [0, 40], [61], sf2=SF2,
                               num_workers=1, progress=False)


def test_missing_fluidsynth_fails_with_install_instruction(tmp_path):
  proc = _tool([f'--output_dir={tmp_path}'],
               env=dict(os.environ, PATH=str(tmp_path)))
  assert proc.returncode != 0
  assert 'apt-get install fluidsynth' in proc.stderr
  assert not list(tmp_path.iterdir())
  with pytest.raises(soundfont.MissingToolError,
                     match='(?s)/nonexistent.sf2 does not exist.*timgm6mb'):
    soundfont.find_soundfont('/nonexistent.sf2')


def test_gm_table():
  assert len(soundfont.GM_PROGRAMS) == 128
  assert soundfont.instrument_str(40) == 'string_acoustic_040'
  assert soundfont.instrument_str(81) == 'synth_lead_synthetic_081'
  for _, family, source in soundfont.GM_PROGRAMS:
    assert 0 <= family < len(schema.INSTRUMENT_FAMILIES)
    assert 0 <= source < len(schema.INSTRUMENT_SOURCES)


def test_silent_notes_are_listed_and_all_silent_is_an_error(tmp_path,
                                                            monkeypatch):
  real = soundfont.render_notes

  def half_silent(sf2, program, pitches, *args, **kwargs):
    waves = real(sf2, program, pitches, *args, **kwargs)
    waves[0] = 0.0  # as a soundfont with no sample for the lowest pitch
    return waves

  monkeypatch.setattr(soundfont, 'render_notes', half_silent)
  manifest = soundfont.render_soundfont(tmp_path / 'a', [0], [40, 60],
                                        sf2=SF2, progress=False)
  assert manifest['num_examples'] == 1
  assert manifest['rejected'][0]['pitch'] == 40
  assert manifest['rejected'][0]['reason'].startswith('silent')

  monkeypatch.setattr(soundfont, 'render_notes',
                      lambda *a, **k: np.zeros([1, 64000], np.float32))
  with pytest.raises(RuntimeError, match='Every rendered note was silent'):
    soundfont.render_soundfont(tmp_path / 'b', [0], [60], sf2=SF2,
                               progress=False)
  assert sorted(os.listdir(tmp_path / 'b')) == ['.render_cache',
                                                'manifest.json']
  with pytest.raises(RuntimeError, match='silent'):  # not taken as finished
    soundfont.render_soundfont(tmp_path / 'b', [0], [60], sf2=SF2,
                               progress=False)


def test_midi_lists_and_their_step_syntax():
  parse = soundfont.parse_midi_list
  assert parse('24-84:3', 'pitches') == list(range(24, 85, 3))
  assert parse('24-84:3', 'pitches')[-1] == 84
  assert parse('0, 3-5,10-20:5', 'programs') == [0, 3, 4, 5, 10, 15, 20]
  assert parse('60-60', 'pitches') == [60]
  for text, message in [
      ('0,128', "--programs='0,128': programs must be whole numbers in "
                '0..127; got 128'),
      ('84-24', "the range '84-24' is empty"),
      ('24-84:0', "the step of '24-84:0' must be >= 1"),
      ('60.5', "'60.5' is not an integer or a range like 24-84"),
      ('C4', "'C4' is not an integer"),
      ('60:3', "'60:3' is not an integer"),
      ('', 'programs: no values given'),
  ]:
    with pytest.raises(ValueError) as info:
      parse(text, 'programs')
    assert message in str(info.value), (text, str(info.value))
    assert '\n' not in str(info.value)
  with pytest.raises(ValueError, match='velocities must be whole numbers in '
                     '1..127; got 0'):
    parse('0,100', 'velocities')


@pytest.mark.parametrize('kwargs, message', [
    (dict(programs=[128]), 'programs must be whole numbers in 0..127; got 128'),
    (dict(programs=[-1]), 'programs must be .* got -1'),
    (dict(pitches=[60, 128]), 'pitches must be .* got 128'),
    (dict(pitches=[60.5]), r'pitches must be whole numbers .* got 60\.5'),
    (dict(pitches=[]), 'pitches: no values given'),
    (dict(velocities=[0]), 'velocities must be whole numbers in 1..127; got 0'),
    (dict(velocities=[128]), 'got 128'),
    (dict(gain=11.0), 'gain must be in 0..10'),
    (dict(num_workers=0), 'num_workers must be an integer >= 1'),
    (dict(num_shards=0), 'num_shards must be an integer >= 1'),
])
def test_out_of_range_arguments_fail_before_anything_is_written(
    tmp_path, kwargs, message):
  """Was: pitches checked, but a bad program or velocity failed inside the
  render pool after .render_cache was made, and 60.5 played as 60."""
  args = dict(programs=[0], pitches=[60], velocities=[100]) | kwargs
  out = tmp_path / 'out'
  with pytest.raises(ValueError, match=message):
    soundfont.render_soundfont(out, args.pop('programs'), args.pop('pitches'),
                               args.pop('velocities'), sf2=SF2,
                               progress=False, **args)
  assert not out.exists()


def test_tool_refuses_bad_values_in_one_line(tmp_path):
  out = tmp_path / 'out'
  proc = _tool([f'--sf2={SF2}', '--programs=0,128', f'--output_dir={out}'])
  assert proc.returncode == 1, proc.stderr[-3000:]
  assert proc.stderr.strip().splitlines()[-1] == (
      "error: --programs='0,128': programs must be whole numbers in 0..127; "
      'got 128')
  assert 'Traceback' not in proc.stderr
  proc = _tool([f'--sf2={SF2}', '--num_workers=0', f'--output_dir={out}'])
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1] == (
      'error: --num_workers must be >= 1, got 0')
  assert not out.exists()


def test_tool_step_syntax_gain_and_workers(rendered):
  """The module's render (--pitches=36-60:24,79 --gain=0.5 --num_workers=1):
  the three pitches, at half the amplitude of a note rendered at gain 1."""
  out, stdout = rendered
  assert 'Rendered 6 notes (2 programs x 3 pitches x 1 velocities)' in stdout
  manifest = json.loads((out / 'manifest.json').read_text())
  assert manifest['config']['pitches'] == [36, 60, 79]
  assert manifest['config']['gain'] == 0.5
  for ex in tf.data.TFRecordDataset(
      sorted(str(p) for p in out.glob('*.tfrecord*'))).map(
          nsynth.parse_example).as_numpy_iterator():
    if ex['note_str'] == b'keyboard_acoustic_000-060-100':
      half = ex['audio']
  full, = soundfont.render_notes(SF2, 0, [60], 100, gain=1.0)
  ratio = np.abs(half).max() / np.abs(full).max()
  print(f'peak at gain 0.5 / gain 1: {ratio:.3f}')
  assert 0.45 < ratio < 0.55, ratio


def test_evaluation_set_refuses_non_integer_pitches(tmp_path):
  """SoundfontDataset / EvalDataset (gin-configured pitches): 60.5 was
  rendered as 60 (int()); now refused before anything is built."""
  from gansynth_tf2.data import eval_set  # pylint: disable=import-outside-toplevel
  with pytest.raises(ValueError, match=r'EvalDataset: pitches must be whole '
                     r'numbers in 0\.\.127; got 60\.5'):
    eval_set.build_eval_dataset(pitches=[48, 60.5], cache_dir=str(tmp_path))
  with pytest.raises(ValueError, match='velocities must be .* got 0'):
    eval_set.SoundfontDataset(velocities=[0], cache_dir=str(tmp_path))
  assert not list(tmp_path.iterdir())
