"""torchvision's folders of photographs (ImageFolder and its kind) whose images are not here: the
items stand in with the shape the code's transform gives them (Resize to a pair, a crop), what a
subclass reads of the real one (imgs, samples, loader) stands in too, and a transform that fixes
no size asks for --input, saying why. Before, every such run stopped at default_collate with
vaelint's internal class name in the message and a 1x28x28 example."""

from __future__ import annotations

from json_cli import check_json, flow_shape
from training_cli import RUNNING


def test_an_image_folder_not_here_gives_images_of_its_transforms_size(monkeypatch):
    monkeypatch.chdir(RUNNING)
    r, result = check_json("image_folder_not_here.py")
    assert result["error"] is None, r.output
    assert [(f["code"], f["line"]) for f in result["findings"]] == [("VAE002", 44)], r.output
    assert any(
        "inferred from datasets.ImageFolder (3x64x64 after Resize(64), CenterCrop(64), ToTensor()) and batch_size=32" in n
        for n in result["notes"]
    ), result["notes"]


def test_a_subclass_reading_the_folders_file_list_and_loader_is_checked(monkeypatch):
    monkeypatch.chdir(RUNNING)
    r, result = check_json("image_folder_subclass_pairs.py")
    assert result["error"] is None and not result["findings"], r.output
    assert flow_shape(result, "first") == "B x 3 x 48 x 48" == flow_shape(result, "second"), result["flow"]


def test_a_folder_whose_transform_fixes_no_size_asks_for_the_batch(monkeypatch):
    monkeypatch.chdir(RUNNING)
    r, result = check_json("image_folder_no_size.py")
    assert r.exit_code == 2, r.output
    message = result["error"]["message"]
    assert "the data set ImageFolder's images are not here, and their size is not known: its transform (ToTensor()) fixes none" in message
    assert "--input 64x3x64x64" in message and "vaelint." not in message, message
    r, result = check_json("image_folder_no_size.py", "--input", "8x3x32x32", "--input", "8:int64:4")
    assert result["error"] is None and not result["findings"], r.output
