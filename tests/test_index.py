"""The library facade end to end, on the bundled photos."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from pictrace import Index
from pictrace.errors import InputError, NotFound, SourceUnreadable
from pictrace.types import DuplicateGroup
from tests.conftest import jpeg_bytes, load_rgb, noise_image, png_bytes


def test_add_reports_failures_and_indexes_the_rest(tmp_path, photos):
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "good.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
    (batch / "empty.jpg").write_bytes(b"")
    (batch / "notes.png").write_text("not an image at all")
    (batch / "cut.jpg").write_bytes((photos / "rocket.jpg").read_bytes()[:4000])
    with Index.open(tmp_path / "idx") as index:
        report = index.add([batch, tmp_path / "missing.jpg"])
        assert len(report.added) == 1
        reasons = {f.source.rsplit("/", 1)[-1]: f.reason for f in report.failed}
        assert "zero-byte" in reasons["empty.jpg"]
        assert "unknown or unsupported image format" in reasons["notes.png"]
        assert "truncated" in reasons["cut.jpg"] or "not a readable" in reasons["cut.jpg"]
        assert "no such file or folder" in reasons["missing.jpg"]  # may have been either
        assert index.stats().images == 1


def test_adding_is_incremental(index_copy, photos):
    before = index_copy.stats().images
    report = index_copy.add([photos])
    assert not report.added and len(report.skipped) == before


def test_adding_again_refreshes_features_an_older_version_computed(tmp_path, photos):
    path = tmp_path / "pic.jpg"
    path.write_bytes((photos / "coffee.jpg").read_bytes())
    with Index.open(tmp_path / "idx") as index:
        first = index.add([path]).added[0]
        with index.store.catalogue.transaction() as db:  # as if an older release wrote it
            db.execute("UPDATE features SET version = 0 WHERE name = 'keypoints'")
        assert index.stats().outdated == {"keypoints": 1}
        assert "keypoints" not in index.stats().extractors
        added_at = index.get(first).added_at
        report = index.add([path])  # the same image, its id and time added kept
        assert report.updated == (first,) and not report.added and not report.replaced
        assert index.get(first).added_at == added_at and len(index.list()) == 1
        assert index.store.feature_versions(first)["keypoints"] == index.specs["keypoints"].version
        assert index.search(path, k=1).matches[0].id == first
        assert index.add([path]).skipped == (str(path),)
        assert index.stats().outdated == {} and index.stats().extractors["keypoints"] == 1


def test_features_computed_again_keep_the_ids_in_a_space_past_hnsw(tmp_path, photos, run):
    """An upgrade's new CNN version (or a user model added): the images keep their ids in an
    HNSW space too (it cannot remove the old vectors until it is rebuilt, at close)."""
    names = ["coffee.jpg", "rocket.jpg", "fruits.jpg", "flower.jpg"]
    with Index.open(tmp_path / "idx", hnsw_threshold=2) as index:
        ids = index.add([photos / n for n in names]).added
        with index.store.catalogue.transaction() as db:  # as if an older release wrote it
            db.execute("UPDATE features SET version = 0 WHERE name = 'cnn'")
        report = index.add([photos / n for n in names])
        assert sorted(report.updated) == sorted(ids) and not report.added
        assert [index.search(photos / n, k=1).matches[0].id for n in names] == list(ids)
    code, out, _ = run("--index", str(tmp_path / "idx"), "stats", "--json")
    assert code == 0 and json.loads(out)["images"] == 4 and not json.loads(out)["outdated"]
    with Index.open(tmp_path / "idx", readonly=True) as index:
        found = [index.search(photos / n, k=4).matches for n in names]
    assert [m[0].id for m in found] == list(ids)
    assert all(len({x.id for x in m}) == len(m) for m in found)  # each image once


def test_changed_file_replaces_its_record(tmp_path, photos):
    path = tmp_path / "pic.jpg"
    path.write_bytes((photos / "coffee.jpg").read_bytes())
    with Index.open(tmp_path / "idx") as index:
        added = index.add([path])
        first = added.added[0]
        assert not added.replaced
        path.write_bytes((photos / "rocket.jpg").read_bytes())
        changed = index.add([path])
        second = changed.added[0]
        assert first != second and index.stats().images == 1
        assert changed.replaced == (second,) and changed.as_dict()["replaced_ids"] == [second]
        assert changed.as_dict()["replaced"] == [{"id": second, "previous_id": first}]
        assert index.search(photos / "rocket.jpg", k=1).matches[0].tier == "exact"


def test_exact_copy_ranks_first(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        result = index.search(photos / "baboon.jpg", k=5)
    top = result.matches[0]
    assert top.tier == "exact" and top.source.endswith("baboon.jpg")
    assert top.copy_confidence == 1.0
    assert [m.tier for m in result.matches[1:]].count("exact") == 0


def test_lossless_resave_is_exact(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        result = index.search(png_bytes(load_rgb(photos / "fruits.jpg")), k=3)
    assert result.matches[0].tier == "exact"
    assert result.matches[0].source.endswith("fruits.jpg")


def test_edited_copy_is_found_as_copy(built_index, photos):
    original = load_rgb(photos / "butterfly.jpg")
    edited = ImageEnhance.Brightness(original.resize((240, 174))).enhance(1.2)
    with Index.open(built_index, readonly=True) as index:
        result = index.search(jpeg_bytes(edited, quality=40), k=5)
    top = result.matches[0]
    assert top.source.endswith("butterfly.jpg") and top.tier == "copy"
    assert top.copy_confidence > 0.8


def test_unrelated_picture_is_never_a_copy(built_index):
    with Index.open(built_index, readonly=True) as index:
        result = index.search(noise_image(7), k=10)
    assert result.matches and all(m.tier == "similar" for m in result.matches)


def test_min_confidence_filters(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        result = index.search(photos / "coffee.jpg", k=10, min_confidence=0.5)
    assert all(m.copy_confidence >= 0.5 for m in result.matches)
    assert result.matches[0].tier == "exact"


def test_results_are_ordered_by_tier(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        matches = index.search(photos / "rocket.jpg", k=10).matches
    order = {"exact": 0, "copy": 1, "similar": 2}
    assert [order[m.tier] for m in matches] == sorted(order[m.tier] for m in matches)


def test_search_accepts_pil_images(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        result = index.search(Image.open(photos / "astronaut.jpg"), k=1)
    assert result.matches[0].source.endswith("astronaut.jpg")


def test_semantic_neighbours(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        result = index.search(photos / "clothing_shoes_0.jpg", k=3)
    assert all("shoes" in m.source for m in result.matches[:3])
    assert result.matches[1].tier == "similar"


def test_a_query_may_be_a_file_object_but_not_a_number(built_index, photos):
    with Index.open(built_index, readonly=True) as index, open(photos / "rocket.jpg", "rb") as f:
        assert index.search(f, k=1).matches[0].tier == "exact"
        with pytest.raises(InputError, match="cannot read a picture from a int: give a file path"):
            index.search(12345)  # type: ignore[arg-type]
        with open(photos / "rocket.jpg") as text, pytest.raises(InputError, match="cannot read"):
            index.search(text)  # type: ignore[arg-type]
        with io.StringIO("a picture?") as text, pytest.raises(InputError, match="binary mode"):
            index.search(text)  # type: ignore[arg-type]


def test_text_search_over_labels(built_index):
    with Index.open(built_index, readonly=True) as index:
        result = index.search_text("tabby cat", k=3)
    assert result.matches[0].source.endswith("chelsea_cat.jpg")


def test_duplicates_groups_copies_and_suggests_the_keeper(index_copy, photos, tmp_path):
    small = tmp_path / "small_coffee.jpg"
    small.write_bytes(jpeg_bytes(load_rgb(photos / "coffee.jpg").resize((300, 200)), 60))
    index_copy.add([small])
    groups = index_copy.duplicates()
    group = next(g for g in groups if any(m.source == str(small) for m in g.members))
    keeper = next(m for m in group.members if m.id == group.keeper)
    assert keeper.source.endswith("examples/photos/coffee.jpg") or keeper.width == 600
    assert len(group.members) == 2


def test_a_folder_renamed_inside_the_library_is_the_same_images(photos, tmp_path, run):
    """The same bytes under a new path, the old path gone: the entry follows the file (same
    id, no second entry); a copy of it beside it is a new image, and so is a file whose old
    place still holds it."""
    library = tmp_path / "library"
    (library / "sub").mkdir(parents=True)
    for name in ("coffee.jpg", "rocket.jpg"):
        (library / "sub" / name).write_bytes((photos / name).read_bytes())
    (library / "kept.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
    index_dir = str(tmp_path / "index")
    with Index.open(index_dir) as index:
        first = index.add([library])
        ids = {index.resolve(str(library / "sub" / n)).id for n in ("coffee.jpg", "rocket.jpg")}
    renamed = (library / "sub").rename(library / "renamed")
    (renamed / "rocket_again.jpg").write_bytes((photos / "rocket.jpg").read_bytes())
    code, out, _ = run("--index", index_dir, "add", str(library), str(renamed / "coffee.jpg"))
    # renamed/coffee.jpg named and under a folder named: one file, counted once
    assert code == 0 and "added 1, skipped unchanged 3 (2 of them moved files)" in out
    with Index.open(index_dir) as index:
        assert index.stats().images == len(first.added) + 1
        assert {index.resolve(str(renamed / n)).id for n in ("coffee.jpg", "rocket.jpg")} == ids
        with pytest.raises(NotFound):
            index.resolve(str(library / "sub" / "coffee.jpg"))
        assert index.resolve(str(library / "kept.jpg")).id not in ids
        report = index.add([renamed])
        assert not report.moved and len(report.skipped) == 3


def test_a_moved_file_and_a_changed_file_under_its_old_name(photos, tmp_path, monkeypatch):
    """A folder moved with relative names: ``a.jpg`` is now another picture (a changed file,
    replacing the entry) and the old ``a.jpg`` is ``b.jpg`` (a moved file matching that
    same entry). Whichever batch comes first takes the entry; the other is a new image, and
    nothing is lost, in one batch or across batches."""
    for batch in (1, 16):
        base = tmp_path / f"b{batch}"
        (base / "d").mkdir(parents=True)
        (base / "d" / "a.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
        monkeypatch.chdir(base / "d")
        with Index.open(base / "index", batch_size=batch) as index:
            index.add(["a.jpg"])
        (base / "d").rename(base / "e")
        monkeypatch.chdir(base / "e")
        (base / "e" / "a.jpg").rename(base / "e" / "b.jpg")
        (base / "e" / "a.jpg").write_bytes((photos / "rocket.jpg").read_bytes())
        with Index.open(base / "index", batch_size=batch) as index:
            report = index.add(["a.jpg", "b.jpg"])
            assert len(report.added) == 2 and report.replaced and not report.moved
            assert index.stats().images == 2
            assert index.search(base / "e" / "b.jpg", k=1).matches[0].tier == "exact"


def test_a_moved_file_keeps_its_entry_beside_a_copy_that_sorts_first(photos, tmp_path):
    """A folder renamed in which the user also copied a file: the file under its old name
    takes the entry (and its history), the copy is a new image, whichever is met first."""
    for batch in (1, 16):
        folder, renamed = tmp_path / f"d{batch}", tmp_path / f"e{batch}"
        folder.mkdir()
        (folder / "p.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
        with Index.open(tmp_path / f"index{batch}", batch_size=batch) as index:
            (first,) = index.add([folder]).added
        folder.rename(renamed)
        (renamed / "a copy.jpg").write_bytes((renamed / "p.jpg").read_bytes())
        with Index.open(tmp_path / f"index{batch}", batch_size=batch) as index:
            report = index.add([renamed])
            assert report.moved == (first,) and len(report.added) == 1
            assert index.resolve(str(renamed / "p.jpg")).id == first
            assert index.get(report.added[0]).source == str(renamed / "a copy.jpg")


def test_a_renamed_folder_of_identical_files_gives_each_file_its_own_entry(photos, tmp_path):
    """Nine files, three pictures each saved three times, in a folder renamed with one file
    deleted: every file keeps the entry it had under its name, and only the deleted one's
    entry is missing (the oldest entry of the same bytes used to go first, and shift the
    rest), in one batch or across batches."""
    names = ("coffee.jpg", "rocket.jpg", "astronaut.jpg")
    for batch in (2, 16):
        folder, renamed = tmp_path / f"a{batch}", tmp_path / f"b{batch}"
        folder.mkdir()
        for n in range(9):
            (folder / f"{n:03d}.jpg").write_bytes((photos / names[n % 3]).read_bytes())
        with Index.open(tmp_path / f"index{batch}", batch_size=batch) as index:
            index.add([folder])
            before = {r.id: Path(r.source).name for r in index.list()}
        folder.rename(renamed)
        (renamed / "001.jpg").unlink()
        with Index.open(tmp_path / f"index{batch}", batch_size=batch) as index:
            report = index.add([renamed])
            assert len(report.moved) == 8 and not report.added
            after = {r.id: Path(r.source).name for r in index.list()}
            assert after == before
            assert [Path(r.source).name for r in index.missing()] == ["001.jpg"]


def test_a_file_moved_in_beside_an_indexed_copy_of_itself_keeps_its_entry(photos, tmp_path):
    """inbox/IMG_1.jpg and archive/IMG_1.jpg, the same bytes, are both catalogued; the file
    manager moves the first into archive as "IMG_1 (1).jpg" (the name was taken): it keeps
    inbox's entry (archive/IMG_1.jpg has its own), nothing stale is left."""
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    inbox.mkdir()
    archive.mkdir()
    for folder in (inbox, archive):
        (folder / "IMG_1.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
    with Index.open(tmp_path / "index") as index:
        assert len(index.add([inbox, archive]).added) == 2
        old = index.resolve(str(inbox / "IMG_1.jpg")).id
    (inbox / "IMG_1.jpg").rename(archive / "IMG_1 (1).jpg")
    with Index.open(tmp_path / "index") as index:
        report = index.add([archive])
        assert report.moved == (old,) and not report.added
        assert index.resolve(str(archive / "IMG_1 (1).jpg")).id == old


@pytest.mark.parametrize("target", ["e/a.jpg", "d/b.jpg"])
def test_a_file_moved_with_a_symlink_left_behind_keeps_its_entry(photos, tmp_path, target):
    """Moved to another folder, or renamed in its own, with a symlink to it left under the
    old name: the same image, moved."""
    folder, moved = tmp_path / "d", tmp_path / target
    folder.mkdir()
    moved.parent.mkdir(exist_ok=True)
    (folder / "a.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
    with Index.open(tmp_path / "index") as index:
        (first,) = index.add([folder]).added
    (folder / "a.jpg").rename(moved)
    (folder / "a.jpg").symlink_to(moved)
    with Index.open(tmp_path / "index") as index:
        report = index.add([moved])
        assert report.moved == (first,) and not report.added
        assert index.resolve(str(moved)).id == first


def test_duplicates_kept_in_memory_see_a_file_deleted_since(photos, tmp_path):
    """Deleting a file does not change the catalogue: groups answered again from memory
    must still not keep a file that is gone."""
    data = (photos / "coffee.jpg").read_bytes()
    for name in ("d1", "d2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.jpg").write_bytes(data)
    with Index.open(tmp_path / "index") as index:
        index.add([tmp_path / "d1"])
        index.add([tmp_path / "d2"])
        (group,) = index.duplicates()
        first = group.keeper
        (
            tmp_path / ("d1" if index.get(first).source.endswith("d1/x.jpg") else "d2") / "x.jpg"
        ).unlink()
        (again,) = index.duplicates()
    assert again.keeper != first and again.missing == {first} and again.reason == "present"


def test_a_grey_copy_of_a_colour_photo_is_not_the_keeper(photos, tmp_path):
    """Colour is not added back: the grey member of a pair is the copy, even as a larger,
    lossless file. A tinted copy (sepia) of a grey photo says nothing of which came first."""
    colour = load_rgb(photos / "coffee.jpg")
    (tmp_path / "coffee.jpg").write_bytes(jpeg_bytes(colour, 85))
    (tmp_path / "coffee_bw.png").write_bytes(png_bytes(ImageOps.grayscale(colour).convert("RGB")))
    grey = ImageOps.grayscale(load_rgb(photos / "rocket.jpg"))
    (tmp_path / "rocket_bw.jpg").write_bytes(jpeg_bytes(grey.convert("RGB"), 85))
    sepia = ImageOps.colorize(grey, black=(40, 26, 13), white=(255, 240, 192))
    (tmp_path / "rocket_sepia.png").write_bytes(png_bytes(sepia))
    with Index.open(tmp_path / "index") as index:
        index.add([tmp_path])
        groups = index.duplicates()

    def group_of(name: str) -> DuplicateGroup:
        return next(g for g in groups if str(tmp_path / name) in {m.source for m in g.members})

    coffee, rocket = group_of("coffee.jpg"), group_of("rocket_bw.jpg")
    kept = next(m for m in coffee.members if m.id == coffee.keeper)
    assert kept.source == str(tmp_path / "coffee.jpg") and coffee.reason == "original"
    assert len(rocket.members) == 2 and not rocket.edited  # the file rules decide
    assert next(m for m in rocket.members if m.id == rocket.keeper).format == "png"


def test_a_file_gone_since_it_was_added_is_never_the_keeper(photos, tmp_path, run):
    """A folder renamed after adding and added again under its new name: the old entries
    point at files no longer there. The group of each picture keeps its file that is still
    there, whatever the policy says, and names the other as missing."""
    folder = tmp_path / "library" / "sub"
    folder.mkdir(parents=True)
    original = load_rgb(photos / "coffee.jpg")
    (folder / "coffee.png").write_bytes(png_bytes(original))  # lossless: the policy's pick
    with Index.open(tmp_path / "index") as index:
        index.add([folder])
        moved = folder.rename(tmp_path / "library" / "renamed")
        (moved / "coffee.png").rename(moved / "coffee_small.jpg")
        (moved / "coffee_small.jpg").write_bytes(jpeg_bytes(original.resize((300, 200)), 80))
        index.add([moved])
        (group,) = index.duplicates()
    keeper = next(m for m in group.members if m.id == group.keeper)
    assert keeper.source == str(moved / "coffee_small.jpg")
    assert group.reason == "present"
    assert group.missing == {m.id for m in group.members if m.id != group.keeper}
    assert group.as_dict()["members"][1]["missing"] is True
    code, out, _ = run("--index", str(tmp_path / "index"), "duplicates")
    assert code == 0 and "keeper by the only file still on disk" in out
    assert "coffee.png  (file missing)" in out


def test_a_negative_is_a_copy_to_search_but_not_a_duplicate_to_remove(index_copy, photos, tmp_path):
    """Nothing tells which of a picture and its negative is the original, and both are
    worth keeping: search calls the negative a copy, duplicates does not group them."""
    negative = tmp_path / "negative_coffee.jpg"
    negative.write_bytes(jpeg_bytes(ImageOps.invert(load_rgb(photos / "coffee.jpg")), 92))
    index_copy.add([negative])
    top = index_copy.search(photos / "coffee.jpg", k=2, min_confidence=0.5).matches
    assert [m.source for m in top] == [str(photos / "coffee.jpg"), str(negative)]
    assert top[1].tier == "copy" and top[1].evidence is not None and top[1].evidence.negative
    grouped = {m.source for g in index_copy.duplicates() for m in g.members}
    assert str(negative) not in grouped


def test_remove_by_id_and_source(index_copy, photos):
    record = index_copy.resolve(str(photos / "rocket.jpg"))
    index_copy.remove(record.id)
    with pytest.raises(NotFound):
        index_copy.get(record.id)
    index_copy.remove(str(photos / "coffee.jpg"))
    with pytest.raises(NotFound, match="no image"):
        index_copy.remove("does-not-exist.jpg")
    top = index_copy.search(photos / "rocket.jpg", k=1).matches[0]
    assert top.tier != "exact"


def test_true_is_no_image_id(index_copy):
    first = min(r.id for r in index_copy.list())
    for call in (index_copy.resolve, index_copy.remove):
        with pytest.raises(InputError, match="id or source"):
            call(True)
    assert index_copy.get(first).id == first


def test_reopening_gives_the_same_results(index_copy, photos):
    first = index_copy.search(photos / "graf3.jpg", k=5)
    folder = index_copy.location
    index_copy.close()
    with Index.open(folder, readonly=True) as again:
        second = again.search(photos / "graf3.jpg", k=5)
    assert [(m.id, m.tier) for m in first.matches] == [(m.id, m.tier) for m in second.matches]


def test_unreadable_query_raises(built_index):
    with Index.open(built_index, readonly=True) as index, pytest.raises(SourceUnreadable):
        index.search("/no/such/file.jpg")


def test_the_same_file_twice_in_one_call(tmp_path, photos):
    with Index.open(tmp_path / "idx") as index:
        report = index.add([photos / "coffee.jpg", photos / "coffee.jpg"])
        assert len(report.added) == 1 and index.stats().images == 1


def test_a_file_named_and_under_a_folder_named_is_counted_once(tmp_path, photos, monkeypatch):
    folder = tmp_path / "pics" / "sub"
    folder.mkdir(parents=True)
    for name in ("coffee.jpg", "rocket.jpg"):
        (folder / name).write_bytes((photos / name).read_bytes())
    monkeypatch.chdir(tmp_path)
    with Index.open(tmp_path / "idx") as index:
        report = index.add(["pics/sub/coffee.jpg", "./pics/sub"])
        assert len(report.added) == 2 and not report.skipped
        assert {r.source for r in index.list()} == {"pics/sub/coffee.jpg", "pics/sub/rocket.jpg"}


def test_a_dot_dot_after_a_symlinked_folder_names_another_file(tmp_path, photos, monkeypatch):
    (tmp_path / "other" / "inner").mkdir(parents=True)
    (tmp_path / "coffee.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
    (tmp_path / "other" / "coffee.jpg").write_bytes((photos / "rocket.jpg").read_bytes())
    (tmp_path / "sub").symlink_to(tmp_path / "other" / "inner")
    monkeypatch.chdir(tmp_path)
    with Index.open(tmp_path / "idx") as index:  # sub/.. is other/, not this folder
        assert len(index.add(["coffee.jpg", "sub/../coffee.jpg"]).added) == 2


def test_a_relative_path_from_a_folder_since_deleted_is_a_failure(tmp_path, photos, monkeypatch):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    with Index.open(tmp_path / "idx") as index:
        report = index.add(["x.jpg", photos / "box.png"])  # an absolute path is still read
        assert len(report.added) == 1 and "x.jpg" in report.failed[0].reason


def test_unsupported_schemes_and_path_spellings(tmp_path, photos, monkeypatch):
    from pictrace.errors import InputError

    monkeypatch.chdir(photos.parent.parent)
    with Index.open(tmp_path / "idx") as index:
        report = index.add(["examples/photos/coffee.jpg", "ftp://example.com/x.jpg"])
        assert "unsupported URL scheme" in report.failed[0].reason
        with pytest.raises(InputError, match="unsupported URL scheme"):
            index.search("file:///etc/passwd")
        record = index.resolve(str(photos / "coffee.jpg"))  # added relative, asked absolute
        assert record.source == "examples/photos/coffee.jpg"


def test_global_features_only_profile(tmp_path, photos):
    """PICTRACE_LOCAL_FEATURES=false: no keypoints stored; mild edits are still copies."""
    with Index.open(tmp_path / "idx", local_features=False) as index:
        index.add([photos])
        assert "keypoints" not in index.specs
        assert "keypoints" not in index.stats().extractors
        edited = ImageEnhance.Color(load_rgb(photos / "fruits.jpg").resize((320, 300))).enhance(1.3)
        top = index.search(jpeg_bytes(edited, 50), k=3).matches[0]
        assert top.source.endswith("fruits.jpg") and top.tier == "copy"
        assert all(m.tier == "similar" for m in index.search(noise_image(3), k=5).matches)
    query = jpeg_bytes(edited, 50)
    with Index.open(tmp_path / "idx", readonly=True) as again:  # the default settings
        assert not again.settings.local_features and "keypoints" not in again.specs
        top = again.search(query, k=1).matches[0]
        assert top.source.endswith("fruits.jpg") and top.tier == "copy"
    with Index.open(tmp_path / "idx", local_features=True) as switched:  # said explicitly
        assert "keypoints" in switched.specs
        assert switched.stats().outdated["keypoints"] == len(switched.list())
    with Index.open(tmp_path / "idx", readonly=True) as again:
        assert again.settings.local_features


def test_an_index_settings_open_another_index_with_its_own_features(tmp_path, photos):
    with Index.open(tmp_path / "global", local_features=False) as index:
        index.add([photos / "coffee.jpg"])
    with Index.open(tmp_path / "local") as index:
        index.add([photos / "rocket.jpg"])
    with Index.open(tmp_path / "global", readonly=True) as first:
        borrowed = first.settings  # settled to the global index's own choice, not given
    with Index.open(tmp_path / "local", settings=borrowed) as other:
        assert other.settings.local_features and "keypoints" in other.specs
    with Index.open(tmp_path / "local", readonly=True) as again:
        assert again.settings.local_features


def test_concurrent_searches_share_the_pool_and_agree(built_index, photos):
    """Searches from several threads (as the HTTP server runs them) use the index's one
    worker pool for voting, extraction and verification: no deadlock, same answers."""
    from concurrent.futures import ThreadPoolExecutor

    names = ["rocket.jpg", "coffee.jpg", "chelsea_cat.jpg", "astronaut.jpg"] * 3
    with Index.open(built_index, readonly=True) as index:
        alone = {n: index.search(photos / n, k=3).matches[0].source for n in set(names)}
        with ThreadPoolExecutor(max_workers=6) as clients:
            found = list(clients.map(lambda n: index.search(photos / n, k=3), names))
    assert [r.matches[0].source for r in found] == [alone[n] for n in names]
    assert all(r.matches[0].tier == "exact" for r in found)


def test_several_copies_of_one_picture_are_all_found(tmp_path, photos):
    """Copies of one picture tie in the local-descriptor votes; all of them must still be
    voted for and verified (a plain ratio test gave none of them votes)."""
    from PIL import ImageDraw, ImageOps

    original = load_rgb(photos / "coffee.jpg")
    captioned = original.copy()
    ImageDraw.Draw(captioned).rectangle((0, 0, original.width, 40), fill=(255, 255, 255))
    copies = {
        "mirror.jpg": ImageOps.mirror(original),
        "caption.jpg": captioned,
        "small.jpg": original.resize((original.width // 2, original.height // 2)),
    }
    for name, picture in copies.items():
        picture.save(tmp_path / name, quality=70)
    with Index.open(tmp_path / "idx") as index:
        index.add([photos, *(tmp_path / name for name in copies)])
        result = index.search(photos / "coffee.jpg", k=6)
    tiers = {m.source.rsplit("/", 1)[-1]: m.tier for m in result.matches}
    assert tiers["coffee.jpg"] == "exact"
    assert all(tiers.get(name) == "copy" for name in copies), tiers


def test_adding_in_overlapping_batches_stores_every_batch_in_order(tmp_path, photos):
    files = sorted(photos.glob("*.jpg"))[:7]
    (tmp_path / "again.jpg").symlink_to(files[0])  # the same file under another name
    given = [files[0], files[1], tmp_path / "again.jpg", *files[2:]]  # it is in the next batch
    seen = []
    with Index.open(tmp_path / "idx", batch_size=2) as index:
        report = index.add(given, progress=lambda done, total: seen.append((done, total)))
        assert len(report.added) == 7 and report.skipped == (str(tmp_path / "again.jpg"),)
        assert [index.get(i).source for i in report.added] == [str(f) for f in files]
        assert seen == [(2, 8), (4, 8), (6, 8), (8, 8)]
        assert index.search(files[5], k=1).matches[0].tier == "exact"


def test_two_threads_adding_the_same_files_to_one_index_take_turns(tmp_path, photos):
    """Each file is added once, by whichever add comes first; the other skips it (it does
    not call it new too, nor re-extract it as if an older release had)."""
    from concurrent.futures import ThreadPoolExecutor

    files = sorted(photos.glob("*.jpg"))[:12]
    with Index.open(tmp_path / "idx", batch_size=2) as index:
        with ThreadPoolExecutor(2) as two:
            reports = list(two.map(index.add, [files, files[::-1]]))
        assert index.store.count() == len(files)
    assert sum(len(r.added) for r in reports) == len(files)
    assert sum(len(r.skipped) for r in reports) == len(files)
    assert not any(r.updated for r in reports)


def test_sources_that_arrive_slowly_are_stored_batch_by_batch(tmp_path, photos):
    from pictrace.types import Source

    files = sorted(photos.glob("*.jpg"))[:5]
    with Index.open(tmp_path / "idx", batch_size=2) as index:
        reported = []

        def arriving():
            for n, path in enumerate(files):
                if n == 2:  # the first batch is stored before the third source is asked for
                    assert reported == [2] and index.stats().images == 2
                yield Source(str(path), path.read_bytes())

        report = index.add_sources(arriving(), progress=lambda done, _: reported.append(done))
        assert len(report.added) == 5 and reported == [2, 4, 5]


def _failing_second_call(fn, error: Exception):
    """``fn`` that raises ``error`` on its second call."""
    calls: list[int] = []

    def wrapped(batch, *rest):
        calls.append(len(batch))
        if len(calls) == 2:
            raise error
        return fn(batch, *rest)

    return wrapped


def test_a_picture_an_extractor_refuses_is_a_one_line_failure_and_the_rest_is_added(
    tmp_path, photos, monkeypatch
):
    """Per-image features are computed right after each decode, on the pool: an input error
    there is that picture's failure, not the batch's."""
    from pictrace import adding
    from pictrace.errors import NotAnImage

    files, bad, refused = _six_and_one_to_refuse(photos)

    def strict(extractors, image):
        if (image.width, image.height) == refused:
            raise NotAnImage("too flat to describe")
        return real(extractors, image)

    real = adding.per_image_values
    monkeypatch.setattr(adding, "per_image_values", strict)
    with Index.open(tmp_path / "idx", batch_size=2) as index:
        _assert_only_refused(index, index.add(files), files, bad, "too flat to describe")


def test_a_picture_the_cnn_refuses_is_a_one_line_failure_and_its_batch_is_still_added(
    tmp_path, photos
):
    from pictrace.errors import NotAnImage
    from pictrace.features.cnn import CnnExtractor

    files, bad, refused = _six_and_one_to_refuse(photos)
    with Index.open(tmp_path / "idx", batch_size=3) as index:
        cnn = next(e for e in index.extractors if isinstance(e, CnnExtractor))
        real = cnn.extract

        def strict(images):
            if any((i.width, i.height) == refused for i in images):
                raise NotAnImage("no embedding for this one")
            return real(images)

        cnn.extract = strict  # type: ignore[method-assign]
        _assert_only_refused(index, index.add(files), files, bad, "no embedding for this one")


def _six_and_one_to_refuse(photos):
    """Six photos, and the position and size of one whose size no other has (a test
    extractor refuses it by its size)."""
    files = sorted(photos.glob("*.jpg"))[:6]
    sizes = [load_rgb(f).size for f in files]
    bad = next(i for i, size in enumerate(sizes) if sizes.count(size) == 1)
    return files, bad, sizes[bad]


def _assert_only_refused(index, report, files, bad, reason):
    assert [(f.source, f.reason) for f in report.failed] == [(str(files[bad]), reason)]
    added = {index.get(i).source for i in report.added}
    assert added == {str(f) for f in files} - {str(files[bad])}


def test_the_last_batches_share_their_cnn_with_the_pool_and_match_a_plain_extraction(
    tmp_path, photos, monkeypatch
):
    """With nothing left to read ahead, half of a batch's CNN runs on the pool; the stored
    embeddings are those of one image at a time."""
    import threading

    from pictrace.decode import decode
    from pictrace.features import pipeline
    from pictrace.features.cnn import CnnExtractor
    from pictrace.ingest.files import read_file

    threads = []
    real = pipeline._batched

    def noted(extractors, images):
        threads.append((threading.current_thread().name, len(images)))
        return real(extractors, images)

    monkeypatch.setattr(pipeline, "_batched", noted)
    files = sorted(photos.glob("*.jpg"))[:12]
    with Index.open(tmp_path / "idx", batch_size=4) as index:
        ids = index.add(files).added
        stored = index.store.features("cnn", ids)
        sources = {i: index.get(i).source for i in ids}
    assert any(name.startswith("pictrace_") and n == 2 for name, n in threads)  # a pool half
    assert sum(n for _, n in threads) == len(files)
    cnn = CnnExtractor(threads=1)
    settings = index.settings
    for image_id, vector in stored.items():
        alone = cnn.extract([decode(read_file(sources[image_id], settings.max_bytes), settings)])
        np.testing.assert_allclose(vector, alone[0]["cnn"], atol=2e-3)


def test_a_failing_write_stops_the_add_and_keeps_the_batches_before_it(tmp_path, photos):
    from pictrace.errors import IndexCorrupt

    files = sorted(photos.glob("*.jpg"))[:6]
    with Index.open(tmp_path / "idx", batch_size=2) as index, pytest.MonkeyPatch.context() as mp:
        failing = _failing_second_call(index.store.add, IndexCorrupt("disk full"))
        mp.setattr(index.store, "add", failing)
        with pytest.raises(IndexCorrupt, match="disk full"):
            index.add(files)
        mp.undo()
        assert [r.source for r in index.list()] == [str(f) for f in files[:2]]
    with Index.open(tmp_path / "idx") as index:  # nothing half-written: adding again completes it
        report = index.add(files)
        assert len(report.added) == 4 and len(report.skipped) == 2


def test_a_search_returns_as_many_matches_as_asked_beyond_the_candidate_default(tmp_path):
    from tests.conftest import noise_image

    folder = tmp_path / "many"
    folder.mkdir()
    for seed in range(45):
        noise_image(seed).save(folder / f"{seed:02d}.png")
    with Index.open(tmp_path / "idx", candidates=8) as index:
        assert len(index.add([folder]).added) == 45
        matches = index.search(folder / "07.png", k=40).matches
        assert len(matches) == 40 and matches[0].tier == "exact"
        assert len({m.id for m in matches}) == 40
        assert len(index.search(folder / "07.png", k=5).matches) == 5


def test_adding_to_a_read_only_index_fails_before_any_work(built_index, photos, monkeypatch):
    from pictrace.errors import IndexLocked

    with Index.open(built_index, readonly=True) as index:
        monkeypatch.setattr(index.adder, "prepare", lambda item: pytest.fail("decoded anyway"))
        with pytest.raises(IndexLocked, match="read-only"):
            index.add([photos / "coffee.jpg"])


def test_a_failing_write_is_reported_even_when_extraction_fails_meanwhile(tmp_path, photos):
    from pictrace.errors import ConfigError, IndexCorrupt

    files = sorted(photos.glob("*.jpg"))[:4]
    with Index.open(tmp_path / "idx", batch_size=2) as index, pytest.MonkeyPatch.context() as mp:
        second_fails = _failing_second_call(index.adder._entries, ConfigError("the CNN failed"))
        mp.setattr(index.adder, "_entries", second_fails)
        mp.setattr(
            index.store, "add", lambda batch: (_ for _ in ()).throw(IndexCorrupt("disk full"))
        )
        with pytest.raises(IndexCorrupt, match="disk full") as failure:
            index.add(files)
        assert isinstance(failure.value.__context__, ConfigError)


def test_many_copies_of_one_picture_are_all_verified(tmp_path, photos):
    """More copies than one round of verification takes: the rounds go on while every
    verified candidate is a copy."""
    from PIL import ImageOps

    original = load_rgb(photos / "coffee.jpg")
    w, h = original.size
    copies = {
        "mirror.jpg": ImageOps.mirror(original),
        "small.jpg": original.resize((w // 2, h // 2)),
        "crop_a.jpg": original.crop((0, 0, w * 3 // 4, h * 3 // 4)),
        "crop_b.jpg": original.crop((w // 4, h // 4, w, h)),
        "rot90.jpg": original.rotate(90, expand=True),
        "bright.jpg": ImageEnhance.Brightness(original).enhance(1.3),
        "grey.jpg": ImageOps.grayscale(original).convert("RGB"),
        "border.jpg": ImageOps.expand(original, border=30, fill=(0, 0, 0)),
    }
    for name, picture in copies.items():
        picture.save(tmp_path / name, quality=80)
    with Index.open(tmp_path / "idx") as index:
        index.add([photos, *(tmp_path / name for name in copies)])
        result = index.search(photos / "coffee.jpg", k=10)
        assert index.settings.verify_top < len(copies)
    tiers = {m.source.rsplit("/", 1)[-1]: m.tier for m in result.matches}
    assert tiers["coffee.jpg"] == "exact"
    assert all(tiers.get(name) == "copy" for name in copies), tiers


def test_a_crop_of_a_picture_indexed_in_a_dozen_re_encodes_finds_them_all(tmp_path, photos):
    """The re-encodes' descriptors tie, so a crop's ratio test gives most of them no votes
    (and its global signals, far from a crop's, none a verification): the twins of the copy
    verified (both stored hashes alike) are verified too. Before, 7 of the 11 were copies."""
    cat = load_rgb(photos / "chelsea_cat.jpg")
    for quality in range(50, 100, 5):
        cat.save(tmp_path / f"cat_q{quality}.jpg", quality=quality)
    w, h = cat.size
    crop = cat.crop((w // 4, h // 4, w // 4 + int(w * 0.45), h // 4 + int(h * 0.45)))
    with Index.open(tmp_path / "idx") as index:
        index.add([photos, *sorted(tmp_path.glob("cat_q*.jpg"))])
        result = index.search(crop, k=20)
    copies = [m.source.rsplit("/", 1)[-1] for m in result.matches if m.tier == "copy"]
    assert sorted(copies) == sorted(
        ["chelsea_cat.jpg", *(f"cat_q{q}.jpg" for q in range(50, 100, 5))]
    )
    assert all(m.tier == "similar" for m in result.matches[len(copies) :])


def test_a_file_added_again_under_another_spelling_of_its_path_is_the_same_image(
    tmp_path, photos, monkeypatch
):
    pics = tmp_path / "pics"
    pics.mkdir()
    for name in ("coffee.jpg", "rocket.jpg"):
        (pics / name).write_bytes((photos / name).read_bytes())
    monkeypatch.chdir(tmp_path)
    with Index.open(tmp_path / "idx") as index:
        first = index.add(["pics", pics / "coffee.jpg"])  # one file twice in one call: once
        assert len(first.added) == 2 and not first.skipped
        again = index.add([pics])  # absolute this time
        assert not again.added and len(again.skipped) == 2
        monkeypatch.chdir(pics)  # relative from another folder, and through a symlink
        (tmp_path / "link").symlink_to(pics)
        again = index.add([".", tmp_path / "link" / "coffee.jpg"])
        assert not again.added and len(again.skipped) == 3
        (pics / "rocket.jpg").write_bytes((photos / "baboon.jpg").read_bytes())
        changed = index.add(["rocket.jpg"])
        assert len(changed.added) == 1 and index.stats().images == 2
        assert index.get(changed.added[0]).source == "pics/rocket.jpg"  # as first added
        assert index.remove(str(tmp_path / "link" / "coffee.jpg")).source == "pics/coffee.jpg"


def test_two_files_with_one_relative_name_from_two_folders_are_two_images(
    tmp_path, photos, monkeypatch
):
    for folder, photo in (("x", "coffee.jpg"), ("y", "rocket.jpg")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.jpg").write_bytes((photos / photo).read_bytes())
    with Index.open(tmp_path / "idx") as index:
        monkeypatch.chdir(tmp_path / "x")
        assert len(index.add(["a.jpg"]).added) == 1
        monkeypatch.chdir(tmp_path / "y")
        second = index.add(["a.jpg"])
        assert len(second.added) == 1 and index.stats().images == 2
        assert index.get(second.added[0]).source == str((tmp_path / "y" / "a.jpg").resolve())
        monkeypatch.chdir(tmp_path / "x")
        assert index.add(["a.jpg"]).skipped == ("a.jpg",)
        assert index.search(tmp_path / "x" / "a.jpg", k=1).matches[0].source == "a.jpg"


def test_a_moved_folder_added_again_from_its_new_place_is_the_same_images(
    tmp_path, photos, monkeypatch
):
    """An archive (its index inside) moved elsewhere: its files, under the same relative
    names, are the images already there, not a second copy of each."""
    archive = tmp_path / "archive"
    (archive / "photos").mkdir(parents=True)
    for name in ("coffee.jpg", "rocket.jpg"):
        (archive / "photos" / name).write_bytes((photos / name).read_bytes())
    monkeypatch.chdir(archive)
    with Index.open("idx") as index:
        assert len(index.add(["photos"]).added) == 2
    moved = tmp_path / "moved"
    archive.rename(moved)
    monkeypatch.chdir(moved)
    with Index.open("idx") as index:
        assert not index.missing()  # still there, under the names they were added by
        again = index.add(["photos"])
        assert not again.added and len(again.skipped) == 2 and index.stats().images == 2
        assert len(again.moved) == 2 and not index.missing()
        monkeypatch.chdir(tmp_path)  # from anywhere now: their new places are catalogued
        assert not index.remove_missing()
        assert index.resolve(str(moved / "photos" / "coffee.jpg")).source == "photos/coffee.jpg"


def test_a_copy_beside_a_folder_moved_with_its_index_does_not_take_its_entry(
    tmp_path, photos, monkeypatch
):
    """After the move, a copy of a file in a folder that sorts first is a new image; the file
    keeps its own entry (it was reported as neither added, skipped nor failed)."""
    archive = tmp_path / "archive"
    (archive / "photos").mkdir(parents=True)
    (archive / "photos" / "x.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
    monkeypatch.chdir(archive)
    with Index.open("idx") as index:
        (first,) = index.add(["photos"]).added
    archive.rename(tmp_path / "moved")
    monkeypatch.chdir(tmp_path / "moved")
    (tmp_path / "moved" / "a_copy").mkdir()
    (tmp_path / "moved" / "a_copy" / "x.jpg").write_bytes((photos / "coffee.jpg").read_bytes())
    with Index.open("idx") as index:
        report = index.add(["a_copy", "photos"])
        assert report.moved == (first,) and len(report.added) == 1
        assert index.get(first).source == "photos/x.jpg"
        assert index.get(report.added[0]).source == "a_copy/x.jpg"


def test_an_empty_path_is_a_failure_not_the_current_folder(tmp_path, photos, monkeypatch):
    monkeypatch.chdir(photos)  # a folder full of pictures that must not be added
    with Index.open(tmp_path / "lib") as index:
        report = index.add(["", "  "])
        assert not report.added and len(report.failed) == 2
        assert all("empty path" in f.reason for f in report.failed)
        with pytest.raises(InputError, match="empty path"):
            index.search("")


def test_search_checks_its_numbers(built_index, photos):
    with Index.open(built_index, readonly=True) as index:
        for k in (0, -1, "3", 2.5, True):
            with pytest.raises(InputError, match="k must be a whole number"):
                index.search(photos / "coffee.jpg", k=k)
        with pytest.raises(InputError, match="min_confidence"):
            index.search(photos / "coffee.jpg", min_confidence=1.5)
        with pytest.raises(InputError, match="k must be"):
            index.search_text("cat", k=0)
        with pytest.raises(InputError, match="min_confidence must be a number"):
            index.search(photos / "coffee.jpg", min_confidence=True)


def test_get_and_list_check_their_numbers(built_index):
    with Index.open(built_index, readonly=True) as index:
        first = index.list(0, 1)[0]
        assert index.get(str(first.id)) == index.get(first.id) == first  # as a URL gives it
        for wrong in ("one", 1.5, True, None, "²", " 7 ", "١٢"):
            with pytest.raises(InputError, match="an image id is a whole number"):
                index.get(wrong)
        for offset, limit in ((-1, 5), (0, -2), ("2", 3), (0, 1.5)):
            with pytest.raises(InputError, match="must be a whole number, 0 or more"):
                index.list(offset, limit)
        with pytest.raises(InputError, match="offset must be at most"):
            index.list(2**70, 1)
        assert index.list(0, 0) == [] and len(index.list(1, None)) == len(index.list()) - 1


def test_a_removal_the_disk_cannot_save_the_spaces_of_is_still_a_removal(
    index_copy, photos, monkeypatch, caplog
):
    """The catalogue commits the removal; saving the searchable copies then fails (a full
    disk): the image is gone all the same, and the next open rebuilds the copies."""
    from pictrace.errors import IndexError_

    def full(*_: object) -> None:
        raise IndexError_("cannot save vectors/cnn.faiss: No space left on device")

    monkeypatch.setattr(index_copy.store, "flush", full)
    record = index_copy.remove(str(photos / "coffee.jpg"))
    assert record.source.endswith("coffee.jpg") and "No space left" in caplog.text
    best = index_copy.search(photos / "coffee.jpg", k=1).matches
    assert not best or best[0].tier != "exact"
    monkeypatch.undo()


def test_an_index_given_as_a_file_uri_or_from_home_is_its_folder(tmp_path, monkeypatch):
    """Its own calibration and uploads are looked for in that folder (a Path folds
    ``file:///srv/index`` into ``file:/srv/index``, which used to be a relative folder)."""
    from pathlib import Path

    monkeypatch.setenv("HOME", str(tmp_path))
    for given in (f"file://{tmp_path}/a", Path(f"file://{tmp_path}/a"), "~/a"):
        with Index.open(given) as index:
            assert index.location == str(tmp_path / "a")
            assert index.uploads == tmp_path / "a" / "uploads"


def test_one_path_given_alone_is_added_as_one_path(photos, tmp_path):
    """A string is not a list of one-letter paths (the first, "/", was the whole disk)."""
    with Index.open(tmp_path / "index") as index:
        assert len(index.add(str(photos / "coffee.jpg")).added) == 1
        assert len(index.add(photos / "rocket.jpg").added) == 1
        assert index.stats().images == 2


def test_an_index_used_after_it_is_closed_says_so(photos, tmp_path):
    from pictrace.errors import IndexClosed

    index = Index.open(tmp_path / "index")
    index.add([photos / "coffee.jpg"])
    index.close()
    for use in (
        lambda: index.search(photos / "coffee.jpg"),
        lambda: index.add([photos / "rocket.jpg"]),
        lambda: index.stats(),
        lambda: index.search_text("cup"),
    ):
        with pytest.raises(IndexClosed, match="closed: open it again"):
            use()


def test_a_text_search_for_something_not_text_is_bad_input(built_index):
    with Index.open(built_index, readonly=True) as index, pytest.raises(InputError, match="string"):
        index.search_text(None)  # type: ignore[arg-type]


def test_an_id_given_as_a_number_is_that_image_even_beside_a_file_named_like_it(
    photos, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "2").write_bytes((photos / "box.png").read_bytes())
    (tmp_path / "b.jpg").write_bytes((photos / "baboon.jpg").read_bytes())
    with Index.open(tmp_path / "index") as index:
        first, second = index.add(["2", "b.jpg"]).added
        assert index.resolve("2").id == first  # a string is a source first
        assert index.remove(second).source == "b.jpg"  # a number is an id only
        with pytest.raises(NotFound):
            index.get(10**30)
        with pytest.raises(NotFound):
            index.resolve("99999999999999999999999")
        with pytest.raises(NotFound):
            index.resolve("²")


def test_a_file_name_that_is_not_utf8_fails_alone(photos, tmp_path):
    import os

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ok.png").write_bytes((photos / "box.png").read_bytes())
    odd = os.fsdecode(bytes(folder) + b"/q\xff.jpg")
    with open(odd, "wb") as handle:
        handle.write((photos / "baboon.jpg").read_bytes())
    with Index.open(tmp_path / "index") as index:
        report = index.add([folder])
        assert len(report.added) == 1 and len(report.failed) == 1
        assert "not valid UTF-8" in report.failed[0].reason
        report.failed[0].reason.encode("utf-8")  # printable, storable


def test_a_pil_image_of_an_indexed_file_is_its_exact_duplicate(tmp_path, photos):
    """A PIL image is decoded as the file it came from: a 16-bit grey picture scaled as
    one (it was all white), a transparent one laid on white and an EXIF-turned photo turned
    (both were only copies)."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    grey = np.asarray(Image.open(photos / "coffee.jpg").convert("L")).astype(np.uint16) * 256
    Image.fromarray(grey).save(folder / "depth16.png")
    rgba = np.asarray(Image.open(photos / "butterfly.jpg").convert("RGBA")).copy()
    rgba[:, : rgba.shape[1] // 2, 3] = 0
    Image.fromarray(rgba).save(folder / "cutout.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # turned 90 degrees
    Image.open(photos / "motorcycle.jpg").save(folder / "phone.jpg", exif=exif.tobytes())
    with Index.open(tmp_path / "index") as index:
        assert len(index.add([str(folder)]).added) == 3
        for name in ("depth16.png", "cutout.png", "phone.jpg"):
            with Image.open(folder / name) as picture:
                top = index.search(picture, k=1).matches[0]
            assert top.source.endswith(name) and top.tier == "exact", name


def test_adding_bytes_or_a_pil_image_is_a_clear_error(tmp_path, photos):
    """Bytes were taken for a list of paths (one per byte value), a PIL image raised a bare
    TypeError, and so did either in a list, or a file object; all are refused before any
    work, with what add takes."""
    data = (photos / "box.png").read_bytes()
    with Index.open(tmp_path / "index") as index, Image.open(photos / "box.png") as picture:
        for item in (data, picture, [data], [picture], io.BytesIO(b"a\nb"), [str(photos), data]):
            with pytest.raises(InputError, match="add takes files, folders or URLs"):
                index.add(item)
        assert index.stats().images == 0


def test_a_pil_query_in_cmyk_is_as_small_as_its_pixels_allow(tmp_path, photos):
    """A CMYK picture went into an uncompressed TIFF (4 bytes a pixel): a large one passed
    the size limit and was refused. It is decoded as its RGB conversion, so it goes as that."""
    from pictrace import load_settings

    settings = load_settings(max_bytes=2_000_000)
    with Index.open(tmp_path / "index", settings=settings) as index:
        index.add([str(photos / "box.png")])
        picture = Image.new("CMYK", (1000, 800), (20, 40, 60, 0))  # 3.2 MB as a TIFF
        assert index.search(picture, k=1).matches
        deep = Image.fromarray((np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16))
        deep.save(tmp_path / "deep.png")
        index.add([str(tmp_path / "deep.png")])
        deep.info["transparency"] = (1, 2, 3)  # no file holds such a key: left out, still 16-bit
        assert index.search(deep, k=1).matches[0].tier == "exact"
        with pytest.raises(InputError, match="cannot read the query picture"):
            index.search(Image.new("RGB", (0, 0)))  # no file holds no pixels (it recursed)


def test_a_damaged_stored_value_under_saved_spaces_fails_no_search_nor_duplicates(
    built_index, tmp_path, photos, caplog
):
    """The spaces on disk are whole (no rebuild notices anything); one image's stored CNN
    vector and another's keypoints are damaged in the catalogue: searches and duplicates
    read around them and name them."""
    import shutil
    import sqlite3

    folder = tmp_path / "index"
    shutil.copytree(built_index, folder)
    with Index.open(folder, readonly=True) as index:
        box, scene = (
            index.resolve(str(photos / "box.png")),
            index.resolve(str(photos / "box_in_scene.png")),
        )
    with sqlite3.connect(folder / "catalogue.sqlite") as db:
        db.execute(
            "UPDATE features SET value = x'010203' WHERE name = 'cnn' AND image_id = ?", (scene.id,)
        )
        db.execute(
            "UPDATE features SET value = x'0102' WHERE name = 'keypoints' AND image_id = ?",
            (box.id,),
        )
    with Index.open(folder, readonly=True) as index:
        result = index.search(photos / "box_in_scene.png", k=5)
        assert result.matches[0].tier == "exact"
        assert f"image {box.id}: stored keypoints cannot be read" in caplog.text
        index.duplicates(fresh=True)
        assert f"image {box.id}: its stored keypoints cannot be read" in caplog.text
        assert f"the stored cnn of 1 image cannot be read (ids {scene.id})" in caplog.text
