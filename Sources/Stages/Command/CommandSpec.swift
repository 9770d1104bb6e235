import Pipeline

extension CommandStage {
    /// The `command` kind's settings: validation, fingerprint and docs/stages/command.md come from here.
    public static let spec = StageKindSpec(
        name: "command",
        summary: "run an external program over declared inputs and outputs ({in}, {out})",
        outputs: .required,
        settings: [
            SettingSpec("run", .string, required: true,
                        "A `/bin/sh` command. `{in}`: the input files; `{out}`: the output files; `{lake}`: the lake root "
                        + "(absolute, shell-quoted)."),
            SettingSpec("from", .strings, label: "stages, paths or globs", default: "none", "Inputs, as for `import`."),
            SettingSpec("deps", .strings, default: "none",
                        "Files outside the lake (scripts) whose content is part of the fingerprint."),
            SettingSpec("timeout", .duration, default: "none", "`30s`, `15m`, `2h`: a longer run is stopped and fails the stage."),
            SettingSpec("env", .mapping(of: "strings"), default: "none", "Extra environment variables."),
            SettingSpec("cwd", .string, default: "project folder",
                        "Working directory; relative to the project folder (the folder holding `pipelines/`)."),
        ])
}
