// serverless-esbuild builds in <service dir>/<outputWorkFolder> and deletes that folder when packaging is
// done, so two packagings of one checkout at the same time (parallel tests, CI steps, two terminals) must
// not share it: one would delete the other's build. Each packaging process gets its own (`.esbuild-*/` is
// git-ignored). `invoke local` keeps its build to run it, so it keeps the plugin's usual `.esbuild`.
// ESBUILD_WORK_FOLDER overrides both.
"use strict";

module.exports = () =>
  process.env.ESBUILD_WORK_FOLDER ||
  (process.argv.includes("invoke") ? ".esbuild" : `.esbuild-${process.pid}`);
