#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (C) 2026 the nbdkit-multicopy developers; see LICENSE.
# The shell recipes of docs/recipes.md, for test-recipes.sh.
#
#   recipes.py RECIPES.md list            numbers of the recipes
#   recipes.py RECIPES.md script N        recipe N as one shell script
#                                         (the prelude block first)
#   recipes.py RECIPES.md execstart N     ExecStart of recipe N's unit
#
# A recipe is a "## N. title" section; its ```sh blocks run in order.
# ```sh blocks before the first recipe are the prelude of every one.
import re
import sys

text = open(sys.argv[1]).read()
sections = re.split(r"^## (\d+)\. .*$", text, flags=re.M)
prelude = re.findall(r"```sh\n(.*?)```", sections[0], flags=re.S)
recipes = {}
for i in range(1, len(sections), 2):
    recipes[sections[i]] = sections[i + 1]

cmd = sys.argv[2]
if cmd == "list":
    print(" ".join(recipes))
elif cmd == "script":
    body = recipes[sys.argv[3]]
    print("".join(prelude + re.findall(r"```sh\n(.*?)```", body, flags=re.S)))
elif cmd == "execstart":
    m = re.search(r"^ExecStart=(.*)$", recipes[sys.argv[3]], flags=re.M)
    print(m.group(1) if m else "")
