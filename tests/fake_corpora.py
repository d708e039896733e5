"""Build tiny fake corpus trees that mirror the official release layouts, for recipe tests.

Each ``make_*`` writes into ``root`` and returns a dict of facts the tests check against
(counts, expected labels...). Audio is 0.2 s of seeded noise, so durations are known exactly.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile as sf

SR = 16000
SECONDS = 0.2


def write_audio(path: Path, seconds: float = SECONDS, sr: int = SR, seed: int = 0) -> Path:
    """Write ``seconds`` of noise; the container follows the suffix (.wav .flac .opus .mp4)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    x = (np.random.default_rng(seed).standard_normal(int(round(seconds * sr))) * 0.1).astype(np.float32)
    suffix = path.suffix.lower()
    if suffix == ".mp4":
        with av.open(str(path), "w", format="mp4") as c:
            stream = c.add_stream("aac", rate=sr)
            stream.layout = "mono"
            frame = av.AudioFrame.from_ndarray(x[None, :], format="fltp", layout="mono")
            frame.sample_rate = sr
            for packet in stream.encode(frame):
                c.mux(packet)
            for packet in stream.encode(None):
                c.mux(packet)
    elif suffix == ".opus":
        sf.write(path, x, sr, format="OGG", subtype="OPUS")
    else:
        sf.write(path, x, sr)
    return path


# --- RAVDESS -------------------------------------------------------------------------------------
def make_ravdess(root: Path, actors: tuple[int, ...] = (1, 2), song: bool = True) -> dict:
    """Full speech sets (60 files) for ``actors``, plus 3 song files and files to ignore."""
    n = 0
    for a in actors:
        d = root / f"Actor_{a:02d}"
        for emo in range(1, 9):
            for inten in (1,) if emo == 1 else (1, 2):
                for stmt in (1, 2):
                    for rep in (1, 2):
                        write_audio(d / f"03-01-{emo:02d}-{inten:02d}-{stmt:02d}-{rep:02d}-{a:02d}.wav", seed=n)
                        n += 1
        if song:
            for emo in (1, 3, 6):
                write_audio(d / f"03-02-{emo:02d}-01-01-01-{a:02d}.flac", seed=n)
                n += 1
        (d / "02-01-01-01-01-01-01.mp4").write_bytes(b"")  # video-only: no audio, must be ignored
        (d / "notes.txt").write_text("not audio")
    return {"speech_per_actor": 60, "song_per_actor": 3 if song else 0}


# --- nEMO ----------------------------------------------------------------------------------------
def make_nemo(root: Path, missing: tuple[str, ...] = ()) -> dict:
    rows = [("EB0_anger_1.wav", "anger", "Lubię czytać.", "lubię czytać", "        EB0", "female", "27"),
            ("EB0_neutral_2.wav", "neutral", "Nie wiem.", "nie wiem", "        EB0", "female", "27"),
            ("SM0_sadness_3.wav", "sadness", "Idę do domu.", "idę do domu", "        SM0", "male", "31"),
            ("SM0_surprised_4.wav", "surprised", "Naprawdę?", "naprawdę", "        SM0", "male", "31")]
    root.mkdir(parents=True, exist_ok=True)
    lines = ["file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage"]
    lines += ["\t".join(r) for r in rows]
    (root / "data.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for i, r in enumerate(rows):
        stem = r[0][:-4]
        if stem not in missing:
            write_audio(root / "samples" / f"{stem}.opus", seed=i)
    return {"n": len(rows)}


# --- Korean emotional TTS ------------------------------------------------------------------------
def make_korean(root: Path) -> dict:
    """Speakers ema (F) and emf (M), numbers 1, 101, 201, 301 (one per emotion)."""
    for spk in ("ema", "emf"):
        base = root / "plain-to-emotional" / spk
        for i, num in enumerate((1, 101, 201, 301)):
            stem = f"{spk}{num:05d}"
            write_audio(base / "wav" / f"{stem}.opus", seed=i)
            (base / "script").mkdir(parents=True, exist_ok=True)
            (base / "transcript").mkdir(parents=True, exist_ok=True)
            (base / "script" / f"{stem}.txt").write_bytes("\ufeff5월 17일.\n".encode())
            (base / "transcript" / f"{stem}.txt").write_bytes("\ufeff오월 십칠일.\n".encode())
    (root / "README.md").write_text("readme")
    return {"n": 8}


# --- IEMOCAP -------------------------------------------------------------------------------------
_IEMOCAP_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"


def _iemocap_block(start: float, end: float, turn: str, label: str, vad: tuple[float, float, float],
                   votes: list[str]) -> str:
    lines = [f"[{start:.4f} - {end:.4f}]\t{turn}\t{label}\t[{vad[0]:.4f}, {vad[1]:.4f}, {vad[2]:.4f}]"]
    lines += [f"C-E{i + 1}:\t{v};\t()" for i, v in enumerate(votes)]
    lines.append("A-E1:\tval 3; act 2; dom  2;\t()")
    return "\n".join(lines) + "\n\n"


#: (dialog, turn, start, end, label, text) per session; the file lists them out of time order.
IEMOCAP_TURNS = [
    ("impro01", "M000", 8.5, 10.0, "fru", "Next."),
    ("impro01", "F000", 6.2901, 8.2357, "neu", "Excuse me."),
    ("impro01", "F001", 10.5, 12.0, "exc", "Oh, great!"),
    ("impro01", "M001", 12.5, 14.0, "xxx", "Yeah."),
    ("script01_1", "F000", 1.0, 2.0, "sad", "I miss him."),
    ("script01_1", "M000", 2.5, 3.5, "ang", "Stop it."),
]


#: A turn whose id number is the highest of its dialog but which starts first: turn order must
#: come from the timestamps, not from the ids.
IEMOCAP_LATE_ID = ("impro01", "F002", 0.5, 1.2, "hap", "Hello?")


def make_iemocap(root: Path, sessions: tuple[int, ...] = (1, 2), drop: tuple[str, ...] = (),
                 late_id: bool = False) -> dict:
    """Sessions with one improvised (female-led) and one scripted (male-led) dialog each.

    ``late_id`` adds :data:`IEMOCAP_LATE_ID` to every improvised dialog (listed last in the files).
    """
    n = 0
    rows = IEMOCAP_TURNS + ([IEMOCAP_LATE_ID] if late_id else [])
    for s in sessions:
        sdir = root / f"Session{s}"
        by_dialog: dict[str, list[tuple]] = {}
        for dialog, turn, start, end, label, text in rows:
            lead = "F" if dialog.startswith("impro") else "M"
            name = f"Ses{s:02d}{lead}_{dialog}"
            by_dialog.setdefault(name, []).append((f"{name}_{turn}", start, end, label, text))
        for name, turns in by_dialog.items():
            ev = _IEMOCAP_HEADER + "".join(
                _iemocap_block(st, en, t, lab, (2.5, 3.0, 3.5), ["Neutral", "Frustration; Anger"])
                for t, st, en, lab, _ in turns)
            (sdir / "dialog" / "EmoEvaluation").mkdir(parents=True, exist_ok=True)
            (sdir / "dialog" / "EmoEvaluation" / f"{name}.txt").write_text(ev)
            (sdir / "dialog" / "EmoEvaluation" / "Categorical").mkdir(exist_ok=True)
            tr = [f"{t} [{st:08.4f}-{en:08.4f}]: {text}" for t, st, en, _, text in turns]
            tr.append(f"{name}_MXX0 [020.0000-021.0000]: [LAUGHTER]")
            (sdir / "dialog" / "transcriptions").mkdir(parents=True, exist_ok=True)
            (sdir / "dialog" / "transcriptions" / f"{name}.txt").write_text("\n".join(tr) + "\n")
            for t, *_ in turns:
                if t not in drop:
                    write_audio(sdir / "sentences" / "wav" / name / f"{t}.wav", seed=n)
                n += 1
    return {"n": n, "per_session": len(rows)}


# --- EmoDB ---------------------------------------------------------------------------------------
EMODB_FILES = ("03a01Fa", "03b10Wb", "08a02Lc", "16b01Ta", "16a04Nb", "10a05Aa", "13a07Ec")


def make_emodb(root: Path) -> dict:
    for i, stem in enumerate(EMODB_FILES):
        write_audio(root / "wav" / f"{stem}.wav", seed=i)
    (root / "lablaut").mkdir(parents=True)
    (root / "wav" / "README").write_text("x")
    return {"n": len(EMODB_FILES)}


# --- CREMA-D -------------------------------------------------------------------------------------
CREMA_FILES = ("1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1001_IEO_SAD_LO", "1002_TIE_NEU_XX",
               "1002_WSI_FEA_MD", "1002_ITS_DIS_XX")


def make_crema_d(root: Path, demographics: bool = True, lfs_pointer: str | None = None) -> dict:
    for i, stem in enumerate(CREMA_FILES):
        write_audio(root / "AudioWAV" / f"{stem}.wav", seed=i)
    if lfs_pointer:
        (root / "AudioWAV" / f"{lfs_pointer}.wav").write_text(
            "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12345\n")
    if demographics:
        (root / "VideoDemographics.csv").write_text(
            "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n1002,21,Female,Caucasian,Not Hispanic\n")
    return {"n": len(CREMA_FILES) + (1 if lfs_pointer else 0)}


# --- MSP-Podcast ---------------------------------------------------------------------------------
MSP_ROWS = [("MSP-PODCAST_0001_0008.wav", "N", "3.0", "4.0", "3.5", "127", "Female", "Train"),
            ("MSP-PODCAST_0001_0010.wav", "A", "6.0", "2.0", "5.5", "127", "Female", "Train"),
            ("MSP-PODCAST_0002_0001.wav", "H", "5.0", "6.2", "4.0", "13", "Male", "Development"),
            ("MSP-PODCAST_0003_0001.wav", "X", "4.0", "4.0", "4.0", "Unknown", "Unknown", "Test1"),
            ("MSP-PODCAST_0004_0001.wav", "C", "4.2", "3.0", "4.0", "55", "Male", "Test2")]


#: Segments of one podcast listed out of order, two with a part number, and a name of another form.
MSP_MORE_ROWS = [("MSP-PODCAST_0005_0012.wav", "S", "3.0", "3.0", "3.0", "77", "Male", "Train"),
                 ("MSP-PODCAST_0005_0003_0002.wav", "N", "3.0", "3.0", "3.0", "77", "Male", "Train"),
                 ("MSP-PODCAST_0005_0003_0001.wav", "N", "3.0", "3.0", "3.0", "78", "Female", "Train"),
                 ("podcast_extra_clip.wav", "H", "3.0", "3.0", "3.0", "78", "Female", "Train")]


def make_msp_podcast(root: Path, missing: tuple[str, ...] = (), more: bool = False) -> dict:
    """The label table of :data:`MSP_ROWS` (plus :data:`MSP_MORE_ROWS` with ``more``) and its audio."""
    rows = MSP_ROWS + (MSP_MORE_ROWS if more else [])
    lines = ["FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set"]
    lines += [",".join(r) for r in rows]
    (root / "Labels").mkdir(parents=True)
    (root / "Labels" / "labels_consensus.csv").write_text("\n".join(lines) + "\n")
    (root / "Transcripts").mkdir()
    for i, r in enumerate(rows):
        stem = r[0][:-4]
        if stem not in missing:
            write_audio(root / "Audios" / r[0], seed=i)
        (root / "Transcripts" / f"{stem}.txt").write_text(f"text of {stem}\n")
    return {"n": len(rows)}


# --- ESD -----------------------------------------------------------------------------------------
ESD_EMOTIONS = {"Neutral": (1, "中立"), "Angry": (351, "生气"), "Happy": (701, "快乐"),
                "Sad": (1051, "伤心"), "Surprise": (1401, "惊喜")}
#: Offsets inside an emotion's block and the split the official rule gives them.
ESD_OFFSETS = {0: "dev", 25: "test", 100: "train"}


def make_esd(root: Path, missing: tuple[str, ...] = ()) -> dict:
    """Speaker 0001 (Mandarin, flat layout, UTF-16 text) and 0011 (English, split sub-folders)."""
    for spk, flat in (("0001", True), ("0011", False)):
        lines = []
        for emotion, (start, zh) in ESD_EMOTIONS.items():
            for off, split in ESD_OFFSETS.items():
                stem = f"{spk}_{start + off:06d}"
                sub = {"dev": "evaluation", "test": "test", "train": "train"}[split]
                folder = root / spk / emotion if flat else root / spk / emotion / sub
                if stem not in missing:
                    write_audio(folder / f"{stem}.wav", seed=start + off)
                text = f"句子{start + off}。" if flat else f"Sentence number {start + off}."
                lines.append(f"{stem}\t{text}\t{zh if flat else emotion}")
        data = "\n".join(lines) + "\n"
        (root / spk).mkdir(parents=True, exist_ok=True)
        (root / spk / f"{spk}.txt").write_bytes(data.encode("utf-16") if flat else data.encode("utf-8"))
    return {"n": 2 * len(ESD_EMOTIONS) * len(ESD_OFFSETS)}


# --- MELD ----------------------------------------------------------------------------------------
_MELD_HEADER = "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime"


def make_meld(root: Path, clips: bool = True) -> dict:
    """Three CSVs (train has mojibake and a row whose clip is missing) and the raw clip folders."""
    root.mkdir(parents=True, exist_ok=True)
    train = [_MELD_HEADER,
             '1,"also I was the point person on my company\x92s transition.",Chandler,neutral,neutral,0,0,8,21,"00:16:16,059","00:16:21,731"',
             '2,You must\u2019ve had your hands full.,The Interviewer,joy,positive,0,1,8,21,"00:16:21,940","00:16:23,442"',
             '3,"Oh, Iâ€™m fine.",Ross,fear,negative,1,0,3,4,"00:01:00,000","00:01:02,500"']
    dev = [_MELD_HEADER, '1,Oh my God!,Phoebe,sadness,negative,0,0,4,7,"00:20:57,256","00:21:00,049"']
    test = [_MELD_HEADER, '1,Why?,Monica,surprise,positive,0,0,5,1,"00:14:38,127","00:14:39,000"',
            '2,"No, no.",Joey,anger,negative,0,1,5,1,"00:14:39,500","00:14:40,000"']
    for name, lines in (("train", train), ("dev", dev), ("test", test)):
        (root / f"{name}_sent_emo.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if clips:
        write_audio(root / "train_splits" / "dia0_utt0.mp4")
        write_audio(root / "train_splits" / "dia0_utt1.wav", seed=1)
        (root / "train_splits" / "._dia0_utt0.mp4").write_bytes(b"\x00\x05\x16\x07")  # macOS junk
        write_audio(root / "dev_splits_complete" / "dia0_utt0.wav", seed=2)
        write_audio(root / "output_repeated_splits_test" / "dia0_utt0.wav", seed=3)
        write_audio(root / "output_repeated_splits_test" / "dia0_utt1.wav", seed=4)
    return {"train": 3, "dev": 1, "test": 2, "missing": ["meld/train/dia1_utt0"]}


def make_emorynlp(root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    header = "Utterance,Speaker,Emotion,Scene_ID,Utterance_ID,Season,Episode,Start_Time,End_Time"
    rows = {"train": ['"Hi, guys!",[\'Monica Geller\'],Joyful,1,1,1,2,00:00:02.877,00:00:07.548',
                      "Together!,\"['Monica Geller', 'Phoebe Buffay']\",Powerful,1,2,1,2,00:00:08.000,00:00:09.000"],
            "dev": ["Coffee.,['Rachel Green'],Peaceful,1,1,1,15,00:00:03.795,00:00:05.004"],
            "test": ["No!,['Ross Geller'],Scared,3,1,2,5,00:09:34.865,00:09:39.453"]}
    for split, lines in rows.items():
        (root / f"emorynlp_{split}_final.csv").write_text("\n".join([header, *lines]) + "\n")
    return {"train": 2, "dev": 1, "test": 1}
