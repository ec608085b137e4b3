"""The pictrace command, run in-process through its real entry point."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import ImageOps

from pictrace import Index, __version__
from pictrace.cli import main
from pictrace.formatting import percent
from tests.conftest import PHOTOS, jpeg_bytes, load_rgb


def test_add_search_json_contract(run, tmp_path, photos):
    index = str(tmp_path / "lib")
    code, out, _ = run("--index", index, "add", str(photos))
    assert code == 0 and "added" in out
    code, out, _ = run(
        "--index",
        index,
        "search",
        str(photos / "coffee.jpg"),
        str(photos / "rocket.jpg"),
        "--json",
        "-k",
        "3",
    )
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["query"] for line in lines] == [
        str(photos / "coffee.jpg"),
        str(photos / "rocket.jpg"),
    ]
    for line in lines:
        assert isinstance(line["elapsed_ms"], float)
        first = line["results"][0]
        assert first["tier"] == "exact" and first["source"] == line["query"]
        for result in line["results"]:
            assert {"id", "source", "tier", "copy_confidence", "similarity"} <= set(result)
            assert 0.0 <= result["copy_confidence"] <= 1.0
            assert 0.0 <= result["similarity"] <= 1.0


def test_index_from_environment(run, tmp_path, photos, monkeypatch):
    monkeypatch.setenv("PICTRACE_INDEX", str(tmp_path / "envlib"))
    assert run("add", str(photos / "coffee.jpg"))[0] == 0
    code, out, _ = run("stats", "--json")
    assert code == 0 and json.loads(out)["images"] == 1


def test_unreadable_query_exits_non_zero(run, built_index):
    code, _, err = run("--index", str(built_index), "search", "/no/such.jpg")
    assert code != 0 and "no such file" in err


def test_missing_index_is_a_clear_error(run, tmp_path, photos):
    code, _, err = run("--index", str(tmp_path / "none"), "search", str(photos / "coffee.jpg"))
    assert code != 0 and "no PicTrace index" in err


def test_compare_prints_metrics_and_verdict(run, photos):
    code, out, _ = run("compare", str(photos / "graf1.jpg"), str(photos / "coffee.jpg"), "--json")
    data = json.loads(out)
    assert code == 0 and data["verdict"] in ("different", "similar")
    assert (data["a"], data["b"]) == (str(photos / "graf1.jpg"), str(photos / "coffee.jpg"))
    assert {"ssim", "orb_matches", "colour", "phash", "cosine"} <= set(data["metrics"])


def test_compare_never_shows_an_edited_copy_as_certain(run, photos, tmp_path):
    picture = load_rgb(photos / "coffee.jpg")
    picture.crop((4, 4, picture.width, picture.height)).save(tmp_path / "c.jpg", quality=95)
    pair = (str(photos / "coffee.jpg"), str(tmp_path / "c.jpg"))
    data = json.loads(run("compare", *pair, "--json")[1])
    code, out, _ = run("compare", *pair)
    shown = f"copy confidence {percent(data['copy_confidence'], 1)}, verdict: {data['verdict']}"
    assert code == 0 and data["verdict"] == "copy" and shown in out


def test_duplicates_remove_and_text(run, built_index, tmp_path, photos):
    import shutil

    index = str(tmp_path / "copy")
    shutil.copytree(built_index, index)
    code, out, _ = run("--index", index, "duplicates", "--json")
    assert code == 0 and "groups" in json.loads(out)
    code, out, _ = run("--index", index, "search", "--text", "tabby cat", "--json", "-k", "1")
    assert json.loads(out)["results"][0]["source"].endswith("chelsea_cat.jpg")
    code, out, _ = run("--index", index, "remove", str(photos / "chelsea_cat.jpg"))
    assert code == 0 and "removed" in out
    code, _, err = run("--index", index, "remove", "12345")
    assert code != 0 and "no image" in err


@pytest.mark.parametrize(
    "args",
    [("frobnicate",), ("search",), ("compare", "only-one.jpg"), ("search", "x.jpg", "-k", "abc")],
)
def test_usage_errors_are_one_clear_message(run, args):
    code, out, err = run(*args)
    assert code == 2
    assert "Traceback" not in err + out
    assert ("Usage" in err + out) or ("Error" in err + out)


def test_json_search_reports_a_failed_query_on_its_own_line(run, built_index, photos):
    code, out, _ = run(
        "--index", str(built_index), "search", "/no/such.jpg", str(photos / "coffee.jpg"), "--json"
    )
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and len(lines) == 2
    assert lines[0]["error"]["code"] == "unreadable_source" and lines[0]["results"] == []
    assert lines[1]["results"][0]["tier"] == "exact"


def test_stats_names_features_an_older_version_computed(run, tmp_path, photos, caplog):
    index_dir = str(tmp_path / "lib")
    assert run("--index", index_dir, "add", str(photos / "coffee.jpg"))[0] == 0
    with Index.open(index_dir) as index, index.store.catalogue.transaction() as db:
        db.execute("UPDATE features SET version = 0 WHERE name = 'colour'")
    code, out, _ = run("--index", index_dir, "stats")
    assert code == 0 and "colour: 1 image without a current value" in out
    code, out, _ = run("--index", index_dir, "stats", "--json")
    assert json.loads(out)["outdated"] == {"colour": 1}
    assert run("--index", index_dir, "search", str(photos / "coffee.jpg"))[0] == 0
    assert "colour were computed by another release" in caplog.text  # searches say so
    caplog.clear()
    code, out, _ = run("--index", index_dir, "add", str(photos / "coffee.jpg"))
    assert code == 0 and out.startswith("added 0, skipped unchanged 0, updated 1 (features")
    assert "another release" not in caplog.text  # the add that updates them is not told
    code, out, _ = run("--index", index_dir, "stats", "--json")
    assert json.loads(out)["outdated"] == {} and json.loads(out)["images"] == 1
    assert "another release" not in caplog.text


def test_compare_overlay_writes_a_picture_or_says_why_not(run, photos, tmp_path):
    a, b = str(photos / "graf1.jpg"), str(photos / "graf3.jpg")
    code, _, err = run("compare", a, b, "--overlay", str(tmp_path / "out.png"))
    assert code == 0 and "overlay written" in err
    from PIL import Image

    with Image.open(tmp_path / "out.png") as picture:
        assert picture.width > picture.height > 100
    for target, reason in (
        (tmp_path / "missing" / "out.png", "does not exist"),
        (tmp_path / "out.xyz", "name an image file"),
        (tmp_path / "out.psd", "name an image file"),  # a format Pillow reads, not writes
    ):
        code, _, err = run("compare", a, b, "--overlay", str(target))
        assert code == 2 and reason in err and "Traceback" not in err


def test_eval_reports_quality_and_cost_over_decode_and_embed(run, built_index, tmp_path, photos):
    from PIL import Image

    crop = Image.open(photos / "coffee.jpg").convert("RGB")
    crop.crop((0, 0, crop.width // 2, crop.height // 2)).save(tmp_path / "coffee_crop.jpg")
    Image.new("RGB", (300, 200), (20, 140, 60)).save(tmp_path / "flat.png")
    (tmp_path / "cases.csv").write_text(
        "query,expected,family\ncoffee_crop.jpg,coffee,crop\nflat.png,,negative\n"
    )
    code, out, _ = run("--index", str(built_index), "eval", str(tmp_path / "cases.csv"), "--json")
    overall = json.loads(out)["report"]["overall"]
    assert code == 0 and overall["n_queries"] == 2 and overall["recall_at"]["1"] == 1.0
    assert overall["baseline"]["n"] == 2 and overall["cost_ratio"] > 0  # a timing: no bound
    code, out, _ = run("--index", str(built_index), "eval", str(tmp_path / "cases.csv"))
    assert code == 0 and "× decoding and embedding the query alone" in out
    code, out, _ = run(
        "--index", str(built_index), "eval", str(tmp_path / "cases.csv"), "--json", "--no-cost"
    )
    overall = json.loads(out)["report"]["overall"]
    assert overall["baseline"]["n"] == 0 and overall["cost_ratio"] is None


def test_eval_names_an_expected_image_the_index_does_not_hold(run, built_index, tmp_path, photos):
    rows = f"{photos / 'coffee.jpg'},cofee\n{photos / 'rocket.jpg'},rocket\n"
    (tmp_path / "cases.csv").write_text("query,expected\n" + rows)
    code, _, err = run("--index", str(built_index), "eval", str(tmp_path / "cases.csv"))
    assert code == 1 and "no indexed file is named 'cofee'" in err
    assert "1 query left out of the measures" in err
    rows += f"{photos / 'rocket.jpg'},rockett\n"  # a second name of a measured query
    (tmp_path / "cases.csv").write_text("query,expected\n" + rows)
    code, _, err = run("--index", str(built_index), "eval", str(tmp_path / "cases.csv"))
    assert code == 1 and "'rockett'" in err and "measured by their other expected names" in err
    code, out, _ = run("--index", str(built_index), "eval", str(tmp_path / "cases.csv"), "--json")
    overall = json.loads(out)["report"]["overall"]  # the typo is not counted as a miss
    assert overall["n_queries"] == 1 and overall["recall_at"]["1"] == 1.0


def test_eval_names_an_unreadable_query_once(run, built_index, tmp_path):
    (tmp_path / "cases.csv").write_text("query,expected\ngone.jpg,coffee\n")
    _, _, err = run("--index", str(built_index), "eval", str(tmp_path / "cases.csv"))
    assert err.count("gone.jpg") == 1, err


def test_remove_names_the_ids_it_did_not_find_and_removes_the_rest(run, index_copy, photos):
    folder = str(index_copy.location)
    index_copy.close()
    code, out, err = run("--index", folder, "remove", "999", str(photos / "rocket.jpg"))
    assert code == 1 and "rocket.jpg" in out and "'999'" in err


def test_a_mistyped_index_is_an_error_for_remove_and_calibrate(run, tmp_path):
    for command in (["remove", "1"], ["calibrate", "pairs.csv"]):
        code, _, err = run("--index", str(tmp_path / "typo"), *command)
        assert code == 2 and "no PicTrace index at" in err
    assert not (tmp_path / "typo").exists()


def test_calibrate_says_what_it_needs(run, built_index, tmp_path):
    code, _, err = run("--index", str(built_index), "calibrate")
    assert code == 2 and "give a CSV of labelled pairs" in err and "not both" not in err
    code, _, err = run("--index", str(built_index), "calibrate", "pairs.csv", "--reset")
    assert code == 2 and "not both" in err


def test_eval_with_unreadable_queries_names_them_and_exits_1(run, built_index, tmp_path):
    (tmp_path / "cases.csv").write_text("query,expected\ngone.jpg,coffee\n")
    code, out, err = run("--index", str(built_index), "eval", str(tmp_path / "cases.csv"))
    assert code == 1 and "gone.jpg" in err and "1 of 1 queries could not be read" in err
    code, out, _ = run("--index", str(built_index), "eval", str(tmp_path / "cases.csv"), "--json")
    assert code == 1 and "gone.jpg" in json.loads(out)["failed"][0]


def test_tables_read_as_a_person_would_write_them(run, built_index, photos, monkeypatch):
    monkeypatch.setenv("PICTRACE_INDEX", str(built_index))
    code, out, _ = run("stats")
    assert code == 0 and "(embedded store)" in out and " MB of image files" in out
    code, out, _ = run("compare", str(photos / "coffee.jpg"), str(photos / "rocket.jpg"))
    phash_row = next(line for line in out.splitlines() if "phash" in line)
    assert code == 0 and "." not in phash_row.split()[-2]  # a distance, not 32.0000
    code, out, err = run("search", "--text", "xyzzy unicorn")
    assert code == 0 and "no matches" in err and not out.strip()
    code, _, err = run("search", "--text", "  ")
    assert code == 2 and "the text is empty" in err
    code, out, _ = run("search", "--text", "giraffe", "--json")
    answer = json.loads(out)
    assert code == 0 and answer["results"] == [] and "'giraffe'" in answer["hint"]
    code, out, _ = run("search", "--text", "tabby cat", "-k", "1")
    header = next(line for line in out.splitlines() if "source" in line)
    assert code == 0 and "chelsea_cat" in out and "copy" not in header  # labels: no copies
    assert "label probability" in header and "similar" not in header  # not a weak match
    code, _, err = run("search", "--text", "tabby cat", "--min-confidence", "0.5")
    assert code == 2 and "does not measure" in err  # not silently ignored


def test_add_writes_nothing_to_stderr_when_it_is_not_a_terminal(run, tmp_path, photos):
    code, out, err = run("--index", str(tmp_path / "lib"), "add", str(photos / "coffee.jpg"))
    assert code == 0 and "added 1" in out and err == ""


def test_add_exit_code_is_the_same_with_json(run, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    index = str(tmp_path / "lib")
    assert run("--index", index, "add", str(bad))[0] == 1
    code, out, _ = run("--index", index, "add", str(bad), "--json")
    assert code == 1 and json.loads(out)["failed"]


@pytest.fixture
def folder(built_index, tmp_path) -> str:
    """A copy of the built index (``duplicates`` keeps what it finds in the folder)."""
    import shutil

    shutil.copytree(built_index, tmp_path / "copy")
    return str(tmp_path / "copy")


def test_duplicates_take_a_keeper_policy(run, folder):
    code, out, _ = run("--index", folder, "duplicates", "--json")
    assert code == 0 and json.loads(out)["policy"][0] == "original"
    code, out, _ = run(
        "--index", folder, "duplicates", "--json", "--keeper", "bytes", "--keeper", "exif"
    )
    answer = json.loads(out)
    assert answer["policy"] == ["bytes", "exif"]
    for group in answer["groups"]:
        assert group["keeper"] == max(group["members"], key=lambda m: m["byte_size"])["id"]
    code, _, err = run("--index", folder, "duplicates", "--keeper", "prettiest")
    assert code == 2 and err.startswith("error: unknown keeper rules ['prettiest']")


def test_duplicates_keep_what_they_found_for_the_next_run(run, folder):
    code, out, _ = run("--index", folder, "duplicates", "--json")
    assert code == 0 and (Path(folder) / "copies.sqlite").is_file()
    with Index.open(folder, readonly=True) as reader:
        calls: list[int] = []
        reader.duplicates(progress=lambda done, total: calls.append(done))
        assert calls == []  # the command's searches were kept
    code, again, _ = run("--index", folder, "duplicates", "--json", "--fresh")
    assert code == 0 and json.loads(again) == json.loads(out)
    code, _, err = run("--index", folder + "-missing", "duplicates")
    assert err.startswith("error: no PicTrace index at")
    assert code != 0 and not Path(folder + "-missing").exists()  # no index made by asking
    plain = Path(folder).parent / "just-photos"
    plain.mkdir()
    code, _, err = run("--index", str(plain), "duplicates")
    assert code != 0 and err.startswith("error: no PicTrace index at")
    assert list(plain.iterdir()) == []


def test_serve_on_a_locked_index_is_one_clear_error(capsys, tmp_path, photos):
    folder = tmp_path / "index"
    answers: list[int] = []
    with Index.open(folder) as writer:
        writer.add([photos / "rocket.jpg"])
        serving = threading.Thread(
            target=lambda: answers.append(main(["--index", str(folder), "serve", "--port", "0"])),
            daemon=True,
        )
        serving.start()
        serving.join(timeout=60)  # a server that took no lock would still be running
    assert answers == [2]
    err = capsys.readouterr().err
    assert err.startswith("error:") and "open for writing" in err and len(err.splitlines()) == 1


def test_serve_on_a_port_in_use_is_one_clear_error(capsys, tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["--index", str(tmp_path / "index"), "serve", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in err and "in use" in err


def test_duplicates_text_names_edited_copies_and_indirect_ones(run, index_copy, photos, tmp_path):
    """A framed copy is likely edited; the astronaut, joined to the coffee photo only through
    a composite of both, matches the composite, not the keeper."""
    coffee, astronaut = load_rgb(photos / "coffee.jpg"), load_rgb(photos / "astronaut.jpg")
    composite = coffee.resize((450, 300))
    composite.paste(astronaut.resize((160, 160)), (30, 30))
    (tmp_path / "composite.jpg").write_bytes(jpeg_bytes(composite, 95))
    framed = ImageOps.expand(coffee, 50, fill=(255, 255, 255))
    (tmp_path / "framed.jpg").write_bytes(jpeg_bytes(framed, 95))
    index_copy.add([tmp_path / "composite.jpg", tmp_path / "framed.jpg"])
    code, out, _ = run("--index", index_copy.location, "duplicates")  # read-only beside it
    rows: dict[str, str] = {}
    for line in out.splitlines():
        for name in ("framed.jpg", "astronaut.jpg", "composite.jpg"):
            if f"/{name}" in line:
                rows[name] = line
    assert code == 0 and "(likely edited)" in rows["framed.jpg"]
    assert all("; keeper by " in line for line in out.splitlines() if line.startswith("group"))
    composite_id = rows["composite.jpg"].replace("keep", "").split()[0]
    assert f"matches {composite_id}, not the keeper" in rows["astronaut.jpg"]


def test_duplicates_follow_the_keeper_policy_setting(run, folder, monkeypatch):
    monkeypatch.setenv("PICTRACE_KEEPER_POLICY", "bytes,exif")
    code, out, _ = run("--index", folder, "duplicates", "--json")
    assert code == 0 and json.loads(out)["policy"] == ["bytes", "exif"]
    code, out, _ = run("--index", folder, "duplicates", "--json", "--keeper", "exif,bytes")
    assert json.loads(out)["policy"] == ["exif", "bytes"]


def _file_size_limit(limit: int):
    def apply() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_is_one_line_and_loses_nothing(folder, photos, tmp_path):
    """Writes past a file-size limit fail as on a full disk (a real `pictrace` process)."""

    from tests.conftest import jpeg_bytes, load_rgb

    more = tmp_path / "more"
    more.mkdir()
    for angle in range(5, 85, 4):  # 20 new pictures: more than the catalogue can grow by
        (more / f"turned{angle}.jpg").write_bytes(
            jpeg_bytes(load_rgb(photos / "coffee.jpg").rotate(angle), 90)
        )
    before = Index.open(folder, readonly=True)
    count = before.store.count()
    before.close()
    script = "import sys; from pictrace.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", script, "--index", folder, "add", str(more)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_file_size_limit(300_000),  # the WAL grows past it, as do saved vectors
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: cannot ") and "Traceback" not in done.stderr, done.stderr
    assert not list(Path(folder).rglob("*.tmp"))
    with Index.open(folder) as index:  # whole: every image added before, and searchable
        stored = index.store.count() - count
        assert stored >= 0
        assert index.search(photos / "coffee.jpg", k=1).matches[0].tier == "exact"
    if stored:  # what the failed add stored is said, not left to guess
        assert f"; {stored} images of this add were stored before it" in lines[-1], lines


def _damaged_tiff(tag: int, count: int | None = None, value: int | None = None) -> bytes:
    """A small TIFF with one IFD entry changed: its count, or its (short) value."""
    import io
    import struct

    buffer = io.BytesIO()
    load_rgb(PHOTOS / "coffee.jpg").resize((64, 48)).save(buffer, "TIFF")
    data = bytearray(buffer.getvalue())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for entry in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * entry
        if struct.unpack_from("<H", data, at)[0] == tag:
            if count is not None:
                struct.pack_into("<I", data, at + 4, count)
            if value is not None:
                struct.pack_into("<H", data, at + 8, value)
    return bytes(data)


def test_pillows_own_complaints_stay_off_the_terminal(tmp_path):
    """In a real process: pytest would capture Pillow's warnings and log records itself."""

    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / "offsets.tif").write_bytes(_damaged_tiff(273, count=100_000))  # Pillow warns
    (folder / "samples.tif").write_bytes(_damaged_tiff(277, value=51_459))  # Pillow logs
    script = "import sys; from pictrace.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", script, "--index", str(tmp_path / "lib"), "add", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1 and done.stdout.count("failed: ") == 2
    assert not done.stderr.strip(), done.stderr


def test_a_label_search_that_finds_nothing_says_why(run, built_index):
    code, _, err = run("--index", str(built_index), "search", "--text", "sneakers")
    assert code == 0 and "'sneakers': in no ImageNet class name" in err
    code, _, err = run("--index", str(built_index), "search", "--text", "cowboy hat")
    assert code == 0 and "no image has a top-5 ImageNet label with every word" in err


def test_serve_takes_server_names(run, built_index, monkeypatch):
    import pictrace.api.app as app_module

    seen = {}
    monkeypatch.setattr(
        app_module, "serve", lambda index, host, port, settings: seen.update(s=settings)
    )
    monkeypatch.setenv("PICTRACE_SERVER_NAMES", "a.example")
    code, _, _ = run("--index", str(built_index), "serve", "--server-name", "b.example")
    assert code == 0 and seen["s"].server_names == ("a.example", "b.example")


def test_add_says_which_added_images_were_changed_files(run, tmp_path, photos):
    path = tmp_path / "pics" / "pic.jpg"
    path.parent.mkdir()
    path.write_bytes((photos / "coffee.jpg").read_bytes())
    index = str(tmp_path / "lib")
    code, out, _ = run("--index", index, "add", str(path.parent))
    assert code == 0 and out.startswith("added 1, ")
    path.write_bytes((photos / "rocket.jpg").read_bytes())
    code, out, _ = run("--index", index, "add", str(path.parent))
    assert code == 0 and out.startswith("added 1 (1 of them changed files), ")
    assert "changed: image 1 is now image 2" in out


def test_add_says_how_many_files_of_a_folder_it_left_out_and_when_it_found_none(
    run, tmp_path, photos
):
    """Files that are not images by name are left out of a folder (named, they are tried);
    the add says so, as JSON too, and an empty folder is no silent success."""
    pics = tmp_path / "pics"
    pics.mkdir()
    (pics / "a.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
    (pics / "noext").write_bytes((photos / "rocket.jpg").read_bytes())
    (pics / "notes.txt").write_text("a list", encoding="utf-8")
    index = str(tmp_path / "lib")
    code, out, _ = run("--index", index, "add", str(pics))
    assert code == 0 and out.startswith("added 1, ")
    assert f"left out 2 files that are not images by name under {pics}" in out
    code, out, _ = run("--index", index, "add", str(pics), str(pics), "--json")
    assert json.loads(out)["left_out"] == {str(pics): 2}  # each file once
    (pics / "more").mkdir()
    (pics / "more" / "clip.mov").write_bytes(b"not looked at")
    code, out, _ = run("--index", index, "add", str(pics / "more"))
    assert f"left out 1 file that is not an image by name under {pics / 'more'}" in out
    code, out, _ = run("--index", index, "add", str(pics / "noext"))
    assert code == 0 and out.startswith("added 1, ")
    (tmp_path / "empty").mkdir()
    code, out, _ = run("--index", index, "add", str(tmp_path / "empty"))
    assert code == 0 and "no image files found" in out


def test_add_says_what_hidden_entries_and_symlinked_folders_it_passed_over(run, tmp_path, photos):
    """A folder's hidden images and folders and its symlinked folders are not added: the add
    counts them (a hidden file that is no image by name, such as .DS_Store, is no news)."""
    data = (photos / "coffee.jpg").read_bytes()
    pics, elsewhere = tmp_path / "pics", tmp_path / "elsewhere"
    for folder in (pics / ".thumbnails", pics / "trip", elsewhere):
        folder.mkdir(parents=True)
    (pics / ".secret.jpg").write_bytes(data)
    (pics / ".DS_Store").write_bytes(b"finder")
    (pics / ".thumbnails" / "a.jpg").write_bytes(data)
    (pics / "trip" / "b.jpg").write_bytes(data)
    (elsewhere / "c.jpg").write_bytes((photos / "rocket.jpg").read_bytes())
    (pics / "trip" / "linked").symlink_to(elsewhere, target_is_directory=True)
    index = str(tmp_path / "lib")
    code, out, _ = run("--index", index, "add", str(pics))
    assert code == 0 and out.startswith("added 1, ")
    assert f"left out 2 hidden images or folders (names starting with a dot) under {pics}" in out
    assert f"did not follow 1 symlinked folder under {pics}" in out
    assert "not an image" not in out
    code, out, _ = run("--index", index, "add", str(pics), "--json")
    report = json.loads(out)
    assert report["left_out_hidden"] == {str(pics): 2}
    assert report["left_out_symlinked"] == {str(pics): 1}
    code, out, _ = run("--index", index, "add", str(pics / "trip" / "linked"))
    assert code == 0 and out.startswith("added 1, ")  # named, a symlinked folder is walked
    named = [str(pics), str(pics / "trip" / "linked"), str(pics / ".thumbnails"), "--json"]
    code, out, _ = run("--index", index, "add", *named)
    report = json.loads(out)  # a folder named too is not left out
    assert report["left_out_hidden"] == {str(pics): 1} and report["left_out_symlinked"] == {}


def test_a_file_name_with_a_line_break_stays_on_its_failure_line(run, tmp_path):
    odd = tmp_path / "a.jpg\n  failed: b.jpg"
    odd.write_text("not a picture", encoding="utf-8")
    code, out, _ = run("--index", str(tmp_path / "lib"), "add", str(odd))
    lines = out.splitlines()
    assert code == 1 and len(lines) == 2 and "a.jpg\\n  failed: b.jpg" in lines[1]


def test_searching_a_folder_says_it_is_one(run, built_index, photos):
    code, _, err = run("--index", str(built_index), "search", str(photos))
    assert code == 1 and "a folder, not an image file (add takes folders)" in err


def test_remove_missing_removes_the_images_whose_files_are_gone(run, tmp_path, photos):
    """Two files deleted since they were added go, with one command; the others stay."""
    for name in ("coffee.jpg", "rocket.jpg", "fruits.jpg"):
        (tmp_path / name).write_bytes((photos / name).read_bytes())
    folder = str(tmp_path / "index")
    assert run("--index", folder, "add", str(tmp_path))[0] == 0
    (tmp_path / "coffee.jpg").unlink()
    (tmp_path / "rocket.jpg").unlink()
    with Index.open(folder):  # a writer (a server, say) at work: a dry run only reads
        code, out, _ = run("--index", folder, "remove", "--missing", "--dry-run")
        assert code == 0 and out.count("would remove") == 2 and "fruits" not in out
        code, out, _ = run("--index", folder, "remove", str(tmp_path / "fruits.jpg"), "--dry-run")
        assert code == 0 and "would remove" in out
    code, out, _ = run("--index", folder, "remove", "--missing")
    assert code == 0 and out.count("(file missing)") == 2 and "fruits" not in out
    assert "is missing" in run("--index", folder, "remove", "--missing")[1]  # none now
    code, out, _ = run("--index", folder, "stats", "--json")
    assert json.loads(out)["images"] == 1
    assert run("--index", folder, "remove")[0] == 2  # nothing named: a usage error


def test_names_print_as_they_are_neither_markup_nor_emoji_codes(run, tmp_path, photos):
    folder = tmp_path / "odd["
    folder.mkdir()
    bracket, emoji = folder / "y][red]w.png", folder / "a:cat:b.jpg"  # the path holds "[/y]"
    bracket.write_bytes((photos / "box.png").read_bytes())
    emoji.write_bytes((photos / "baboon.jpg").read_bytes())
    index = str(tmp_path / "lib")
    assert run("--index", index, "add", str(folder))[0] == 0
    code, out, _ = run("--index", index, "search", str(bracket), "-k", "1")
    assert code == 0 and "odd[/y][red]w.png" in out.replace("\n", "")
    code, out, _ = run("--index", index, "search", str(emoji), "-k", "1", "--json")
    assert code == 0 and json.loads(out)["results"][0]["source"] == str(emoji)
    code, out, _ = run("--index", index, "compare", str(bracket), str(emoji))
    assert code == 0 and "odd[/y][red]w.png" in out.replace("\n", "")


def test_serve_refuses_a_port_out_of_range(run, tmp_path):
    code, _, err = run("--index", str(tmp_path / "lib"), "serve", "--port", "99999")
    assert code == 2 and "65535" in err


def test_the_version_is_printed(run):
    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"pictrace {__version__}"


def test_list_shows_each_image_once_in_pages(run, built_index):
    code, out, _ = run("--index", str(built_index), "list")
    rows = out.splitlines()
    assert code == 0 and len(rows) == len({row.split()[0] for row in rows}) > 3
    code, out, _ = run(
        "--index", str(built_index), "list", "--offset", "1", "--limit", "2", "--json"
    )
    page = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [p["id"] for p in page] == [int(r.split()[0]) for r in rows[1:3]]
    assert run("--index", str(built_index.parent / "none"), "list")[0] == 2  # no index there


def test_list_past_the_end_says_how_many_images_there_are(run, built_index):
    code, out, err = run("--index", str(built_index), "list", "--offset", "500")
    held = len(run("--index", str(built_index), "list")[1].splitlines())
    assert code == 0 and out == "" and f"no images from offset 500: the index holds {held}" in err


def test_an_image_named_twice_or_missing_too_is_removed_once_without_an_error(
    run, tmp_path, photos
):
    for name in ("coffee.jpg", "rocket.jpg", "fruits.jpg"):
        (tmp_path / name).write_bytes((photos / name).read_bytes())
    folder = str(tmp_path / "index")
    assert run("--index", folder, "add", str(tmp_path))[0] == 0
    (tmp_path / "coffee.jpg").unlink()
    code, out, err = run("--index", folder, "remove", "--missing", str(tmp_path / "coffee.jpg"))
    assert code == 0 and out.count("coffee.jpg") == 1 and not err
    listed = [json.loads(line) for line in run("--index", folder, "list", "--json")[1].splitlines()]
    rocket = next(str(r["id"]) for r in listed if r["source"].endswith("rocket.jpg"))
    code, out, err = run("--index", folder, "remove", rocket, str(tmp_path / "rocket.jpg"))
    assert code == 0 and out.count("removed") == 1 and not err
    code, out, _ = run("--index", folder, "stats", "--json")
    assert json.loads(out)["images"] == 1


def _namesakes(tmp_path, photos) -> tuple[Path, Path, str]:
    """Two folders, each with another picture named a.jpg, and an index folder beside them."""
    first, second = tmp_path / "d1", tmp_path / "d2"
    for folder, photo in ((first, "coffee.jpg"), (second, "box.png")):
        folder.mkdir()
        (folder / "a.jpg").write_bytes((photos / photo).read_bytes())
    return first, second, str(tmp_path / "index")


def test_a_file_named_as_another_folders_file_is_its_own_image(run, tmp_path, photos, monkeypatch):
    """``a.jpg`` added from two folders: in each folder, ``remove a.jpg`` and adding it again
    mean that folder's file, also once the other folder's file is gone."""
    first, second, index = _namesakes(tmp_path, photos)
    for folder in (first, second):
        monkeypatch.chdir(folder)
        assert run("--index", index, "add", "a.jpg")[0] == 0
    (first / "a.jpg").unlink()
    code, out, _ = run("--index", index, "add", "a.jpg")  # d2's file, unchanged
    assert code == 0 and "skipped unchanged 1" in out and "added 0" in out
    code, out, _ = run("--index", index, "remove", "a.jpg")
    assert code == 0 and str(second / "a.jpg") in out
    code, out, _ = run("--index", index, "list", "--json")
    assert [json.loads(line)["source"] for line in out.splitlines()] == ["a.jpg"]


def test_a_file_here_that_is_not_indexed_is_not_another_folders_namesake(
    run, tmp_path, photos, monkeypatch
):
    """``remove a.jpg`` where this folder's a.jpg was never added named another folder's
    image added as ``a.jpg``, whose file is still there; it now says so and removes nothing."""
    first, second, index = _namesakes(tmp_path, photos)
    monkeypatch.chdir(first)
    assert run("--index", index, "add", "a.jpg")[0] == 0
    monkeypatch.chdir(second)
    code, _, err = run("--index", index, "remove", "a.jpg")
    assert code == 1 and "name it by its id" in err and str(first / "a.jpg") in err
    monkeypatch.chdir(first)
    assert run("--index", index, "remove", "a.jpg")[0] == 0


def test_a_deleted_file_here_is_its_own_entry_not_another_folders(
    run, tmp_path, photos, monkeypatch
):
    """This folder's a.jpg deleted: ``remove a.jpg`` here removed the other folder's image
    (the first added as a.jpg), whose file is still there; it now removes this one's."""
    first, second, index = _namesakes(tmp_path, photos)
    for folder in (first, second):
        monkeypatch.chdir(folder)
        assert run("--index", index, "add", "a.jpg")[0] == 0
    (second / "a.jpg").unlink()
    code, out, _ = run("--index", index, "remove", "a.jpg")
    assert code == 0 and str(second / "a.jpg") in out
    code, out, _ = run("--index", index, "list", "--json")
    assert [json.loads(line)["source"] for line in out.splitlines()] == ["a.jpg"]


def test_a_path_that_names_no_place_is_not_found(run, built_index, tmp_path, monkeypatch):
    """A symlink loop made resolving the path raise, and remove printed a traceback."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    code, _, err = run("--index", str(built_index), "remove", "--dry-run", "loop")
    assert code == 1 and "no image with id or source 'loop'" in err


@pytest.mark.parametrize(
    ("blocked", "args", "hint"),
    [
        ("httpx", ["search", "http://127.0.0.1:9/a.jpg"], "httpx is not installed"),
        ("httpx", ["add", "http://127.0.0.1:9/a.jpg"], "httpx is not installed"),
        ("fastapi", ["serve", "--port", "9"], "fastapi is not installed"),
        ("uvicorn", ["serve", "--port", "9"], "uvicorn is not installed"),
        ("python_multipart", ["serve", "--port", "9"], "python_multipart is not installed"),
        ("jinja2", ["serve", "--port", "9"], "jinja2 must be installed"),
        ("selectolax", ["add", "http://127.0.0.1:9/a.jpg"], "selectolax is not installed"),
        ("httpx", ["stats"], None),  # an allow-list is read without the web extra
    ],
)
def test_without_the_web_extra_the_error_says_what_to_install(tmp_path, blocked, args, hint):
    """A real process in which the web extra's module cannot be imported."""

    index = tmp_path / "lib"
    Index.open(index).close()
    script = (
        f"import sys; sys.modules[{blocked!r}] = None; from pictrace.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--index", str(index), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PICTRACE_ALLOW_HOSTS": "127.0.0.1,intranet.example"},
    )
    assert "Traceback" not in done.stderr, done.stderr
    if hint is None:
        assert done.returncode == 0 and "images 0" in done.stdout
    else:
        assert done.returncode != 0
        assert hint in done.stderr and "install it with: pip install 'pictrace[web]'" in (
            done.stderr
        )


@pytest.mark.parametrize("verbose", [False, True])
def test_verbose_shows_why_a_picture_failed(tmp_path, photos, verbose):
    """A real process in which one feature fails on every picture (as a library might)."""

    script = (
        "import sys\n"
        "from pictrace.features.colour import ColourExtractor\n"
        "def broken(self, image): raise ValueError('a library failed')\n"
        "ColourExtractor.extract_one = broken\n"
        "from pictrace.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    flags = ["-v"] if verbose else []
    picture = str(photos / "coffee.jpg")
    done = subprocess.run(
        [sys.executable, "-c", script, *flags, "-i", str(tmp_path / "lib"), "add", picture],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1 and "failed: " in done.stdout
    shown = "ValueError: a library failed" in done.stderr and "Traceback" in done.stderr
    assert shown == verbose, done.stderr
    assert ("DEBUG pictrace: features of" in done.stderr) == verbose


def test_an_index_made_in_a_folder_of_other_files_is_pointed_out(
    run, tmp_path, photos, monkeypatch
):
    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    (pictures / "holiday.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
    code, _, err = run("--index", str(pictures), "add", str(photos / "rocket.jpg"))
    assert code == 0 and f"note: {pictures} held no PicTrace index but 1 file or folder;" in err
    code, _, err = run("--index", str(pictures), "add", str(photos / "box.png"))
    assert code == 0 and "note:" not in err  # an index now: nothing to point out
    code, _, err = run("--index", str(tmp_path / "new"), "add", str(photos / "box.png"))
    assert code == 0 and "note:" not in err
    served = tmp_path / "served"
    served.mkdir()
    (served / "notes.txt").write_text("mine")
    monkeypatch.setattr("pictrace.api.app.serve", lambda *args: None)
    code, _, err = run("--index", str(served), "serve")
    assert code == 0 and f"note: {served} held no PicTrace index but 1 file or folder;" in err


def test_a_misspelt_setting_is_pointed_out(run, built_index, monkeypatch, caplog):
    monkeypatch.setenv("PICTRACE_MAX_BYTE", "5")  # PICTRACE_MAX_BYTES
    monkeypatch.setenv("PICTRACE_MY_OWN_NOTE", "x")  # no setting is close: not ours to judge
    monkeypatch.setenv("PICTRACE_INDEX_OLD", "x")  # a user's own name built on a setting's
    monkeypatch.setenv("PICTRACE_Max_Bytes", str(64 << 20))  # read whatever its case
    code, _, _ = run("--index", str(built_index), "stats")
    assert code == 0
    assert "PICTRACE_MAX_BYTE is no PicTrace setting, so it is ignored: PICTRACE_MAX_BYTES?" in (
        caplog.text
    )
    for own in ("PICTRACE_MY_OWN_NOTE", "PICTRACE_INDEX_OLD", "PICTRACE_Max_Bytes"):
        assert own not in caplog.text


def test_verbose_lasts_one_run_of_the_command(run, built_index, monkeypatch, caplog):
    """In one process (as here): -v twice logs each record once, and a run without it none."""
    import logging

    def detail() -> None:
        logging.getLogger("pictrace.test").debug("a detail only -v shows")

    monkeypatch.setattr("pictrace.cli.collection.stats_lines", lambda s: detail() or [])
    seen = [run("-v", "--index", str(built_index), "stats")[2] for _ in range(2)]
    assert [err.count("DEBUG pictrace.test: a detail only -v shows") for err in seen] == [1, 1]
    assert "a detail only -v shows" not in run("--index", str(built_index), "stats")[2]
    assert logging.getLogger("pictrace").level == logging.NOTSET


def test_a_failing_import_of_pictrace_itself_is_no_missing_extra():
    """A bug of ours (a name gone from a module) must show as itself, not as an install hint."""
    from pictrace.errors import MissingExtra, needs_extra

    with pytest.raises(ImportError) as caught, needs_extra("web"):
        from pictrace.settings import no_such_name  # noqa: F401
    assert not isinstance(caught.value, MissingExtra)


def test_a_ctrl_c_while_the_command_starts_ends_it_without_a_traceback(tmp_path):
    """The console script's imports take a second; an interrupt during them (here: raised
    where the command module is imported) is "aborted" and 130, as during a command."""
    script = (
        "import sys\n"
        "class Interrupt:\n"
        "    @staticmethod\n"
        "    def find_spec(name, path=None, target=None):\n"
        "        if name == 'pictrace.cli':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt)\n"
        "from pictrace.console import run\n"
        "sys.exit(run())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert (done.returncode, done.stderr) == (130, "aborted\n")


def test_a_ctrl_c_during_duplicates_says_what_is_kept_and_aborted(
    run, index_copy, monkeypatch, caplog
):
    """An interrupted command ends with 130 and says so (typer returns 130 in silence), and
    duplicates says how much of its search is kept for the next run (a warning: on stderr
    from the command, here in pytest's log capture)."""
    from pictrace.search import duplicates as finding

    monkeypatch.setattr(finding, "CHUNK", 4)
    monkeypatch.setattr(finding.CopyLinks, "record", _interrupting(finding.CopyLinks.record))
    folder = str(index_copy.location)
    index_copy.close()
    code, _, err = run("--index", folder, "duplicates")
    assert code == 130
    assert "the copies found for 4 of the" in caplog.text and err == "aborted\n"


def _interrupting(record):
    """``CopyLinks.record`` that raises KeyboardInterrupt on its second chunk."""
    calls = []

    def wrapped(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return record(self, *args, **kwargs)

    return wrapped


def test_importing_pictrace_alone_leaves_the_engine_unloaded_until_used():
    """``import pictrace`` is quick (the console script's Ctrl-C window); names still work."""
    script = (
        "import sys, pictrace\n"
        "print('pictrace.index' in sys.modules)\n"
        "from pictrace import Index, Stats, load_settings\n"
        "print(Index.__module__, Stats.__module__, 'pictrace.index' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stdout.split() == ["False", "pictrace.index", "pictrace.types", "True"]


@pytest.mark.parametrize("module", ["pictrace", "pictrace.cli"])
def test_python_dash_m_runs_the_command(module, built_index):
    done = subprocess.run(
        [sys.executable, "-m", module, "--index", str(built_index), "stats"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "images" in done.stdout.lower()
