# SPDX-License-Identifier: Apache-2.0
# Prints the shell steps of a Markdown page, in order: every ```sh block, and the ```sh WANT
# blocks (e.g. `awk -v want=server`); other blocks are left out. A blank line ends each block.
# The runbook and guide tests run what it prints, so the pages stay true.
/^```/ {
  if (state == 0) {
    tag = substr($0, 4)
    if (tag == "sh" || (want != "" && tag == "sh " want)) state = 1
    else state = 2
    next
  }
  state = 0
  print ""
  next
}
state == 1 { print }
