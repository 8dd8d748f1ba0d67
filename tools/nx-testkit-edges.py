#!/usr/bin/env python3
"""Plugins test with @hv/testkit, and @hv/testkit composes the built-ins, which include the plugins:
the devDependency edge would make a cycle in nx's task graph. Every package that lists @hv/testkit
as a devDependency gets `"nx": {"implicitDependencies": ["!@hv/testkit"]}` (its tests still import
the testkit; nx just does not order or cache-key on it). Run after adding the testkit to a package."""
import glob, json
for pj in sorted(glob.glob("packages/**/package.json", recursive=True)):
    if "node_modules" in pj:
        continue
    p = json.load(open(pj))
    if "@hv/testkit" in p.get("devDependencies", {}) and p.get("name") != "@hv/testkit":
        deps = p.setdefault("nx", {}).setdefault("implicitDependencies", [])
        if "!@hv/testkit" not in deps:
            deps.append("!@hv/testkit")
            json.dump(p, open(pj, "w"), indent=2)
            open(pj, "a").write("\n")
            print("edge removed:", pj)
