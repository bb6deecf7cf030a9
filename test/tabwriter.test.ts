/**
 * Go's text/tabwriter as ctr uses it (src/cli/tabwriter.ts), checked against
 * what the real ctr 1.6.20 printed for the same rows (captured from
 * `ctr namespaces ls`, `images ls`, `images check`, `content active`,
 * `containers ls` against a containerd daemon).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { table } from "../src/cli/output.js";
import { formatTabs } from "../src/cli/tabwriter.js";

const digest = "sha256:f2dae7e00fc6804f7f242f98af89bb87c8ec9da0786f682de347937a53c8d677";

describe("tabwriter, as ctr's tables", () => {
  test("namespaces ls: every line padded to the LABELS column, an empty cell too", () => {
    assert.equal(
      table(["NAME", "LABELS"], [["default", ""], ["lbl", "a=true,b=1"]]),
      "NAME    LABELS     \ndefault            \nlbl     a=true,b=1 \n",
    );
  });

  test("images ls: six terminated columns", () => {
    assert.equal(
      table(["REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS"], [["docker.io/library/anchor:1.0", "application/vnd.oci.image.manifest.v1+json", digest, "1.8 KiB", "linux/amd64", "-"]]),
      "REF                          TYPE                                       DIGEST                                                                  SIZE    PLATFORMS   LABELS \n" +
        `docker.io/library/anchor:1.0 application/vnd.oci.image.manifest.v1+json ${digest} 1.8 KiB linux/amd64 -      \n`,
    );
  });

  test("images check: the header's last cell is terminated, the rows' are not", () => {
    assert.equal(
      table(["REF", "TYPE", "DIGEST", "STATUS", "SIZE", "UNPACKED"], [["docker.io/library/anchor:1.0", "application/vnd.oci.image.manifest.v1+json", digest, "complete (3/3)", "1.2 KiB/1.2 KiB", "false"]], { rowsTerminated: false }),
      "REF                          TYPE                                       DIGEST                                                                  STATUS         SIZE            UNPACKED \n" +
        `docker.io/library/anchor:1.0 application/vnd.oci.image.manifest.v1+json ${digest} complete (3/3) 1.2 KiB/1.2 KiB false\n`,
    );
  });

  test("content active: tab padding, rounded up to multiples of 8", () => {
    assert.equal(table(["REF", "SIZE", "AGE"], [["ref-bad", "6B", "Less than a second"]], { padchar: "\t" }), "REF\tSIZE\tAGE\t\t\t\nref-bad\t6B\tLess than a second\t\n");
  });

  test("content ls: nothing terminated, the LABELS column as it is", () => {
    assert.equal(table(["DIGEST", "SIZE"], [["sha256:abc", "1B"]], { padchar: "\t", headerTerminated: false, rowsTerminated: false }), "DIGEST\t\tSIZE\nsha256:abc\t1B\n");
  });

  test("containers ls: minwidth 4, padding 4", () => {
    assert.equal(
      table(["CONTAINER", "IMAGE", "RUNTIME"], [["c1", "docker.io/library/anchor:1.0", "io.containerd.runc.v2"]], { minwidth: 4, padding: 4 }),
      "CONTAINER    IMAGE                           RUNTIME                  \nc1           docker.io/library/anchor:1.0    io.containerd.runc.v2    \n",
    );
  });

  test("a line without a tab ends the column blocks; a shorter line ends a block", () => {
    assert.equal(formatTabs("a\tb\t\nlonger\tc\t\nplain\nx\ty\t\n"), "a      b \nlonger c \nplain\nx y \n");
    assert.equal(formatTabs("a\tb\tc\nlong\tx\naa\tbbbb\tc\n"), "a    b c\nlong x\naa   bbbb c\n");
    assert.equal(formatTabs("no newline\tat end"), "no newline at end");
  });
});
