"""Build the speech-command demo dataset in ``sample_data/speech/``.

Run from the repository root::

    python sample_data/make_speech.py

Needs ``espeak-ng`` on the PATH (Debian/Ubuntu: ``apt-get install espeak-ng``),
numpy, scipy and scikit-learn. Takes a couple of minutes on one core.

What it does:

1. Synthesises ten command words ("yes", "no", ..., "go") with espeak-ng. Each
   *speaker* is a fixed combination of an espeak accent, voice variant, speaking
   rate and pitch; every utterance adds a little jitter on top.
2. Records each word under one of four conditions at a given signal-to-noise
   ratio (SNR): clean speech, car noise (engine hum + low rumble), people noise
   (babble of other synthetic talkers) or low bandwidth (telephone band
   300-3400 Hz with 8-bit mu-law companding), through a laptop, phone or headset
   microphone (a simple high-pass filter each).
3. Builds a training set in a temporary directory (not committed). Its mix of
   conditions differs from the dev set: little people noise, hardly any
   telephone audio.
4. Extracts log-mel features with numpy, trains a scikit-learn logistic
   regression and predicts the dev set, giving real predictions and confidences.
5. Simulates a second human listener (``human_label``) and a team's manual error
   review (``reviews.csv``), and writes per-tag human-level performance
   (``tags.csv``).

Dev clips are 16 kHz mono 16-bit PCM WAV. All randomness is seeded, so a rerun
with the same espeak-ng and library versions gives the same files.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

SEED = 20240611
SAMPLE_RATE = 16_000
ESPEAK_RATE = 22_050
OUT_DIR = Path(__file__).resolve().parent / "speech"

WORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
CONDITIONS = ["clean", "car", "people", "low_bandwidth"]
TAG_OF_CONDITION = {
    "clean": "clean speech",
    "car": "car noise",
    "people": "people noise",
    "low_bandwidth": "low bandwidth",
}

N_DEV = 400
N_TRAIN = 3600
N_SPEAKERS = 112
N_DEV_SPEAKERS = 12  # held out: the dev set is spoken by people the model never heard

# Share of each condition. The dev set mirrors what users send; the training
# set is what the team happened to collect.
DEV_SHARES = {"clean": 0.60, "car": 0.08, "people": 0.25, "low_bandwidth": 0.07}
TRAIN_SHARES = {"clean": 0.60, "car": 0.25, "people": 0.145, "low_bandwidth": 0.005}

# SNR range (dB) per condition: speech power over added-noise power in the file.
SNR_RANGE = {
    "clean": (30.0, 40.0),  # faint room tone only
    "car": (-6.0, 9.0),  # engines are loud, but their energy sits below most of speech
    "people": (3.0, 15.0),
    "low_bandwidth": (15.0, 30.0),  # line hiss on the phone channel
}

# Which microphone each condition is recorded with (probabilities).
DEVICE_PROBS = {
    "clean": {"laptop": 0.5, "headset": 0.4, "phone": 0.1},
    "car": {"phone": 0.6, "headset": 0.4},
    "people": {"laptop": 0.5, "phone": 0.4, "headset": 0.1},
    "low_bandwidth": {"phone": 0.8, "laptop": 0.2},
}
DEVICE_HIGHPASS_HZ = {"headset": 60.0, "laptop": 150.0, "phone": 220.0}

TELEPHONE_BAND_HZ = (300.0, 3400.0)
MISLABEL_RATE = 0.012  # dev labels that do not match the spoken word
REVIEWED_CORRECT_SHARE = 0.18  # share of correct dev predictions also reviewed
REVIEWERS = ["ana", "ben"]
# Below these SNRs a listener notes the talker is hard to hear. Low rumble masks
# speech less than babble does, so car noise needs to be louder to bury a voice.
QUIET_SNR_DB = {"car": 0.0, "people": 5.0}
FAINT_SNR_DB = {"car": 6.0, "people": 12.0}  # above these, noise is easy to overlook

ACCENTS = [
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-029",
    "en-us-nyc",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
]
VARIANTS = [
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "iven", "linda", "steph", "john", "max", "Andy",
    "Annie", "belinda", "david", "edward", "grandma", "grandpa", "paul", "robert",
    "travis", "zac", "aunty", "Alicia", "Andrea", "anika", "shelby", "steph2",
    "quincy", "rob", "michel", "victor", "norbert", "Jacky", "Lee",
]  # fmt: skip

BABBLE_PHRASES = [
    "did you see the game last night",
    "I will meet you at the station at six",
    "can you pass me the salt please",
    "the weather is supposed to be nice tomorrow",
    "we should order some more coffee",
    "I don't know what he meant by that",
    "let's go to the park after lunch",
    "my sister is moving to a new flat",
    "have you finished the report yet",
    "the train was twenty minutes late again",
    "she said the meeting was moved to Friday",
    "turn it on when you get home",
    "I think the shop closes at nine",
    "we need to book the tickets soon",
    "that restaurant down the road is great",
    "he always forgets his keys",
    "are you coming to the party on Saturday",
    "the kids are playing in the garden",
    "this soup needs a little more pepper",
    "I left my umbrella on the bus",
]

# Words a listener is most likely to mishear each word as.
CONFUSABLE = {
    "yes": ["left", "no"],
    "no": ["go", "down", "on"],
    "up": ["off", "stop"],
    "down": ["no", "on"],
    "left": ["yes", "right"],
    "right": ["left", "up"],
    "on": ["off", "no", "down"],
    "off": ["on", "up"],
    "stop": ["up", "off"],
    "go": ["no", "down"],
}


@dataclass(frozen=True)
class Speaker:
    """A synthetic talker: an espeak voice with its own rate and pitch."""

    name: str
    voice: str  # e.g. "en-gb-scotland+f3"
    speed: int  # words per minute
    pitch: int  # 0-99


@dataclass
class Clip:
    """One recorded command and everything known about how it was made."""

    id: str
    word: str  # the word actually spoken
    label: str  # the word in the dataset's label column
    speaker: Speaker
    noise: str
    snr_db: float
    device: str

    @property
    def bandwidth_khz(self) -> float:
        return TELEPHONE_BAND_HZ[1] / 1000 if self.noise == "low_bandwidth" else SAMPLE_RATE / 2000


# --------------------------------------------------------------------------- audio


def require_espeak() -> None:
    """Fail early with a helpful message if espeak-ng is missing."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng not found: install it (apt-get install espeak-ng) and rerun.")


def synthesize(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """Speak ``text`` with espeak-ng and return float samples at SAMPLE_RATE."""
    cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text]
    raw = subprocess.run(cmd, capture_output=True, check=True).stdout
    with wave.open(io.BytesIO(raw)) as wav:  # espeak streams, so the frame count is bogus
        assert wav.getframerate() == ESPEAK_RATE and wav.getsampwidth() == 2
        frames = wav.readframes(wav.getnframes())
    x = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0
    return signal.resample_poly(x, SAMPLE_RATE // 50, ESPEAK_RATE // 50)


def trim_silence(x: np.ndarray, threshold_db: float = -40.0, margin_s: float = 0.03) -> np.ndarray:
    """Cut leading and trailing silence, keeping a short margin."""
    hop = SAMPLE_RATE // 100
    n = len(x) // hop
    rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > threshold_db)
    margin = int(margin_s * SAMPLE_RATE)
    start = max(loud[0] * hop - margin, 0)
    end = min((loud[-1] + 1) * hop + margin, len(x))
    return x[start:end]


def power(x: np.ndarray) -> float:
    return float(np.mean(x**2)) + 1e-20


def fit_length(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Loop or crop ``x`` to exactly ``n`` samples, starting at a random point."""
    reps = int(np.ceil((n + len(x)) / len(x)))
    tiled = np.tile(x, reps)
    start = int(rng.integers(0, len(x)))
    return tiled[start : start + n]


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """1/f noise, shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum[1:] /= np.sqrt(f[1:])
    spectrum[0] = 0
    return np.fft.irfft(spectrum, n)


def car_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Engine hum (a wobbling low harmonic series) over low-passed brown rumble."""
    t = np.arange(n) / SAMPLE_RATE
    brown = np.cumsum(rng.standard_normal(n))
    brown -= signal.lfilter([1.0], [1.0, -0.999], np.r_[0, np.diff(brown)])  # tame the drift
    brown = signal.sosfilt(
        signal.butter(4, rng.uniform(250, 500), fs=SAMPLE_RATE, output="sos"), brown
    )
    brown /= np.sqrt(power(brown))
    f0 = rng.uniform(28, 45)  # firing frequency of the engine
    wobble = 1 + 0.03 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t)
    phase = 2 * np.pi * f0 * np.cumsum(wobble) / SAMPLE_RATE
    hum = sum(
        rng.uniform(0.3, 1.0) / k * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
        for k in range(1, 9)
    )
    hum /= np.sqrt(power(hum))
    road = signal.sosfilt(signal.butter(2, 1200, fs=SAMPLE_RATE, output="sos"), pink_noise(n, rng))
    road /= np.sqrt(power(road))
    return brown + rng.uniform(0.5, 1.0) * hum + 0.3 * road


def babble_noise(n: int, pool: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Several background talkers, each a random stretch of a random utterance."""
    out = np.zeros(n)
    for idx in rng.choice(len(pool), size=int(rng.integers(3, 7)), replace=False):
        talker = fit_length(pool[idx], n, rng)
        out += talker / np.sqrt(power(talker)) * 10 ** (rng.uniform(-4, 4) / 20)
    return out


def highpass(x: np.ndarray, cutoff_hz: float) -> np.ndarray:
    return signal.sosfilt(signal.butter(1, cutoff_hz, "highpass", fs=SAMPLE_RATE, output="sos"), x)


def telephone_band(x: np.ndarray) -> np.ndarray:
    sos = signal.butter(6, TELEPHONE_BAND_HZ, "bandpass", fs=SAMPLE_RATE, output="sos")
    return signal.sosfilt(sos, x)


def mu_law_8bit(x: np.ndarray, mu: float = 255.0) -> np.ndarray:
    """Round-trip through 8-bit mu-law companding, as on a G.711 phone line."""
    peak = np.max(np.abs(x)) + 1e-12
    y = np.sign(x) * np.log1p(mu * np.abs(x / peak)) / np.log1p(mu)
    y = np.round(y * 127) / 127
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu * peak


def record(clip: Clip, babble_pool: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Synthesise ``clip.word`` and pass it through the clip's acoustic condition."""
    jitter_speed = clip.speaker.speed + int(rng.integers(-10, 11))
    jitter_pitch = int(np.clip(clip.speaker.pitch + rng.integers(-6, 7), 0, 99))
    word = trim_silence(synthesize(clip.word, clip.speaker.voice, jitter_speed, jitter_pitch))
    lead = int(rng.uniform(0.05, 0.2) * SAMPLE_RATE)
    tail = int(rng.uniform(0.05, 0.15) * SAMPLE_RATE)
    speech = np.r_[np.zeros(lead), word, np.zeros(tail)]
    n = len(speech)

    if clip.noise == "car":
        noise = car_noise(n, rng)
    elif clip.noise == "people":
        noise = babble_noise(n, babble_pool, rng)
    else:  # room tone for clean speech, line hiss for the phone channel
        noise = pink_noise(n, rng)

    cutoff = DEVICE_HIGHPASS_HZ[clip.device]
    speech, noise = highpass(speech, cutoff), highpass(noise, cutoff)
    if clip.noise == "low_bandwidth":
        speech, noise = telephone_band(speech), telephone_band(noise)

    # SNR is measured over the word, as it reaches the file (after mic and phone line).
    speech_power = power(speech[lead : lead + len(word)])
    noise *= np.sqrt(speech_power / power(noise) / 10 ** (clip.snr_db / 10))
    mix = speech + noise
    if clip.noise == "low_bandwidth":
        mix = mu_law_8bit(mix)

    level_db = rng.uniform(-28, -16)  # speech level in dBFS
    mix *= 10 ** (level_db / 20) / np.sqrt(speech_power)
    peak = np.max(np.abs(mix))
    if peak > 0.95:
        mix *= 0.95 / peak
    return mix


def write_wav(path: Path, x: np.ndarray) -> None:
    """Write mono 16-bit PCM at SAMPLE_RATE."""
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm.tobytes())


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        assert wav.getframerate() == SAMPLE_RATE
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0


# --------------------------------------------------------------------------- data design


def make_speakers(rng: np.random.Generator) -> list[Speaker]:
    """Distinct talkers: a unique accent + voice variant pair, each with its own rate and pitch."""
    pairs = [(accent, variant) for accent in ACCENTS for variant in VARIANTS]
    chosen = rng.choice(len(pairs), size=N_SPEAKERS, replace=False)
    return [
        Speaker(
            name=f"spk{i + 1:03d}",
            voice="{}+{}".format(*pairs[k]),
            speed=int(rng.integers(130, 196)),
            pitch=int(rng.integers(25, 76)),
        )
        for i, k in enumerate(chosen)
    ]


def make_babble_pool(rng: np.random.Generator, speakers: list[Speaker]) -> list[np.ndarray]:
    """Background sentences, each said by a random talker."""
    pool = []
    for phrase in BABBLE_PHRASES:
        for spk in rng.choice(len(speakers), size=3, replace=False):
            s = speakers[spk]
            pool.append(trim_silence(synthesize(phrase, s.voice, s.speed, s.pitch)))
    return pool


def condition_counts(n: int, shares: dict[str, float]) -> dict[str, int]:
    counts = {c: int(round(n * shares[c])) for c in CONDITIONS}
    counts["clean"] += n - sum(counts.values())
    return counts


def plan_clips(
    prefix: str, n: int, shares: dict[str, float], speakers: list[Speaker], rng: np.random.Generator
) -> list[Clip]:
    """Decide word, speaker, condition, SNR and device of every clip."""
    noises = [c for c, k in condition_counts(n, shares).items() for _ in range(k)]
    rng.shuffle(noises)
    clips = []
    for i, noise in enumerate(noises):
        devices = DEVICE_PROBS[noise]
        word = str(rng.choice(WORDS))
        clips.append(
            Clip(
                id=f"{prefix}{i + 1:04d}",
                word=word,
                label=word,
                speaker=speakers[int(rng.integers(len(speakers)))],
                noise=noise,
                snr_db=round(float(rng.uniform(*SNR_RANGE[noise])), 1),
                device=str(rng.choice(list(devices), p=list(devices.values()))),
            )
        )
    return clips


def add_mislabels(clips: list[Clip], rng: np.random.Generator) -> None:
    """A few dev labels name a different word than the one spoken."""
    for i in rng.choice(len(clips), size=max(1, round(MISLABEL_RATE * len(clips))), replace=False):
        clip = clips[i]
        clip.label = str(rng.choice([w for w in WORDS if w != clip.word]))


def render(clips: list[Clip], folder: Path, babble_pool: list[np.ndarray], seed: int) -> None:
    """Synthesise every clip into ``folder`` as ``<id>.wav``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, clip in enumerate(clips):
        rng = np.random.default_rng([seed, i])
        write_wav(folder / f"{clip.id}.wav", record(clip, babble_pool, rng))


# --------------------------------------------------------------------------- model


def mel_filterbank(n_mels: int = 40, n_fft: int = 512, fmin: float = 20.0) -> np.ndarray:
    """Triangular filters evenly spaced on the mel scale."""

    def to_mel(f):
        return 2595 * np.log10(1 + np.asarray(f) / 700)

    def to_hz(m):
        return 700 * (10 ** (np.asarray(m) / 2595) - 1)

    edges = to_hz(np.linspace(to_mel(fmin), to_mel(SAMPLE_RATE / 2), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1 / SAMPLE_RATE)
    fb = np.zeros((n_mels, len(bins)))
    for m in range(n_mels):
        lo, mid, hi = edges[m : m + 3]
        fb[m] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return fb


MEL_FB = mel_filterbank()
N_SEGMENTS = 5


def features(x: np.ndarray) -> np.ndarray:
    """Log-mel band energies pooled over time, plus their deltas.

    25 ms frames every 10 ms. The word is located as the frames within 20 dB of
    the loudest one; its log-mel means over five equal time segments, the
    standard deviation over the word and the mean absolute frame-to-frame delta
    form the feature vector. Overall loudness is removed.
    """
    win, hop = 400, 160
    x = np.r_[x, np.zeros(max(0, win - len(x)))]
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop] * np.hanning(win)
    spec = np.abs(np.fft.rfft(frames, 512)) ** 2
    logmel = np.log(spec @ MEL_FB.T + 1e-10)
    energy = np.log(spec.sum(axis=1) + 1e-10)
    loud = np.flatnonzero(energy > energy.max() - np.log(100.0))  # within 20 dB
    word = logmel[loud[0] : loud[-1] + 1]
    if len(word) < N_SEGMENTS:
        word = np.repeat(word, N_SEGMENTS, axis=0)
    word = word - word.mean()
    segments = [seg.mean(axis=0) for seg in np.array_split(word, N_SEGMENTS)]
    deltas = np.abs(np.diff(word, axis=0)).mean(axis=0)
    return np.concatenate([*segments, word.std(axis=0), deltas])


def feature_matrix(clips: list[Clip], folder: Path) -> np.ndarray:
    """Features of every clip, read back from its WAV file."""
    return np.stack([features(read_wav(folder / f"{c.id}.wav")) for c in clips])


def train_model(x: np.ndarray, y: list[str]):
    """Standardised features into a regularised multinomial logistic regression."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=3000))
    return model.fit(x, y)


# --------------------------------------------------------------------------- listeners


def human_error_rate(noise: str, snr_db: float) -> float:
    """How often a second listener mishears a word: more in noise and on the phone."""
    if noise == "clean":
        return 0.01
    if noise == "car":
        return 0.01 + 0.005 * max(0.0, 9 - snr_db)
    if noise == "people":
        return 0.03 + 0.01 * max(0.0, 15 - snr_db)
    return 0.05 + 0.002 * max(0.0, 30 - snr_db)  # low bandwidth


def human_labels(clips: list[Clip], rng: np.random.Generator) -> list[str]:
    """A second person's label: the spoken word, misheard at ``human_error_rate``."""
    out = []
    for clip in clips:
        if rng.random() < human_error_rate(clip.noise, clip.snr_db):
            out.append(str(rng.choice(CONFUSABLE[clip.word])))
        else:
            out.append(clip.word)
    return out


def is_quiet(clip: Clip) -> bool:
    return clip.snr_db < QUIET_SNR_DB.get(clip.noise, -np.inf)


def review_tags(clip: Clip, rng: np.random.Generator) -> list[str]:
    """What a reviewer writes down after listening to a clip."""
    tags = []
    faint = clip.snr_db > FAINT_SNR_DB.get(clip.noise, np.inf)
    if not (faint and rng.random() < 0.25):  # faint background noise is sometimes missed
        tags.append(TAG_OF_CONDITION[clip.noise])
    if is_quiet(clip):
        tags.append("quiet speaker")
    if clip.label != clip.word:
        tags.append("mislabel")
    return tags


def reviews(clips: list[Clip], predictions: list[str], rng: np.random.Generator) -> list[dict]:
    """Every error plus a random sample of correct predictions, with their tags."""
    rows = []
    for clip, pred in zip(clips, predictions, strict=True):
        if pred != clip.label or rng.random() < REVIEWED_CORRECT_SHARE:
            rows.append(
                {
                    "id": clip.id,
                    "reviewer": str(rng.choice(REVIEWERS)),
                    "tags": ";".join(review_tags(clip, rng)),
                }
            )
    return rows


def tag_table(clips: list[Clip]) -> list[dict]:
    """Human-level performance (expected accuracy of the simulated listener) and effort."""

    def hlp(selected: list[Clip]) -> float:
        return round(1 - float(np.mean([human_error_rate(c.noise, c.snr_db) for c in selected])), 2)

    by_noise = {n: [c for c in clips if c.noise == n] for n in CONDITIONS}
    quiet = [c for c in clips if is_quiet(c)]
    return [
        {"tag": "clean speech", "hlp": hlp(by_noise["clean"]), "effort": 4,
         "description": "Speech with no audible background noise"},
        {"tag": "car noise", "hlp": hlp(by_noise["car"]), "effort": 2,
         "description": "Engine hum and road rumble, e.g. commands given while driving"},
        {"tag": "people noise", "hlp": hlp(by_noise["people"]), "effort": 3,
         "description": "Other people talking in the background (babble)"},
        {"tag": "low bandwidth", "hlp": hlp(by_noise["low_bandwidth"]), "effort": 5,
         "description": "Telephone-band audio (300-3400 Hz) from a phone line or low-rate codec"},
        {"tag": "quiet speaker", "hlp": hlp(quiet), "effort": 4,
         "description": "Talker hard to hear over the background noise"},
        {"tag": "mislabel", "hlp": "", "effort": 1,
         "description": "The label does not match the word spoken; fix the label, not the model"},
    ]  # fmt: skip


# --------------------------------------------------------------------------- output


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def clip_columns(c) -> dict:
    """The columns describing a clip's recording, last in the dev and production CSVs."""
    return {
        "audio": f"clips/{c.id}.wav",
        "noise": c.noise,
        "snr_db": f"{c.snr_db:.1f}",
        "bandwidth_khz": f"{c.bandwidth_khz:g}",
        "device": c.device,
        "speaker": c.speaker.name,
    }


def dev_rows(clips, predictions, confidences, humans) -> list[dict]:
    return [
        {
            "id": c.id,
            "label": c.label,
            "prediction": p,
            "confidence": f"{conf:.3f}",
            "human_label": h,
            **clip_columns(c),
        }
        for c, p, conf, h in zip(clips, predictions, confidences, humans, strict=True)
    ]


def summarize(clips: list[Clip], predictions: list[str], humans: list[str]) -> None:
    print(f"{'condition':<14}{'n':>5}{'model acc':>11}{'human acc':>11}")
    for noise in CONDITIONS:
        idx = [i for i, c in enumerate(clips) if c.noise == noise]
        model_acc = np.mean([predictions[i] == clips[i].label for i in idx])
        human_acc = np.mean([humans[i] == clips[i].label for i in idx])
        print(f"{noise:<14}{len(idx):>5}{model_acc:>11.3f}{human_acc:>11.3f}")
    overall = np.mean([p == c.label for p, c in zip(predictions, clips, strict=True)])
    print(f"{'all':<14}{len(clips):>5}{overall:>11.3f}")


def design(rng: np.random.Generator) -> tuple[list[Clip], list[Clip], list[np.ndarray]]:
    """The training clips, the dev clips and the background talkers, drawn from ``rng``.

    Other scripts (``make_speech_v2.py``) call this with a generator seeded with SEED to
    get exactly the clips this script renders; ``rng`` is left where ``main`` goes on.
    """
    speakers = make_speakers(rng)
    dev_speakers, train_speakers = speakers[:N_DEV_SPEAKERS], speakers[N_DEV_SPEAKERS:]
    print("synthesising background talkers ...")
    babble_pool = make_babble_pool(rng, speakers)
    train = plan_clips("t", N_TRAIN, TRAIN_SHARES, train_speakers, rng)
    dev = plan_clips("s", N_DEV, DEV_SHARES, dev_speakers, rng)
    add_mislabels(dev, rng)
    return train, dev, babble_pool


def main() -> None:
    require_espeak()
    rng = np.random.default_rng(SEED)
    train, dev, babble_pool = design(rng)

    clip_dir = OUT_DIR / "clips"
    if clip_dir.exists():
        shutil.rmtree(clip_dir)
    print(f"rendering {len(dev)} dev clips ...")
    render(dev, clip_dir, babble_pool, SEED + 1)

    with tempfile.TemporaryDirectory() as tmp:
        print(f"rendering {len(train)} training clips in a temporary folder ...")
        render(train, Path(tmp), babble_pool, SEED + 2)
        x_train = feature_matrix(train, Path(tmp))
    print("training ...")
    model = train_model(x_train, [c.label for c in train])

    proba = model.predict_proba(feature_matrix(dev, clip_dir))
    predictions = [str(w) for w in model.classes_[proba.argmax(axis=1)]]
    confidences = proba.max(axis=1)
    humans = human_labels(dev, rng)

    write_csv(OUT_DIR / "speech_dev.csv", dev_rows(dev, predictions, confidences, humans))
    write_csv(OUT_DIR / "reviews.csv", reviews(dev, predictions, rng))
    write_csv(OUT_DIR / "tags.csv", tag_table(dev))
    summarize(dev, predictions, humans)


if __name__ == "__main__":
    main()
