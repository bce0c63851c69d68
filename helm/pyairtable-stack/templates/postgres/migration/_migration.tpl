{{/*
Migration Job helpers. The version is the directory the agent reads (/migrations/<version>) and
the history key, so it is validated here as the agent does (src/core/migrate/version.ts).
*/}}

{{/* The version as a string; a YAML float (version: 2.1) is refused, since 2.10 would silently become 2.1. */}}
{{- define "pyairtable-stack.postgres.migration.version" -}}
{{- $v := .Values.databases.postgres.migration.version -}}
{{- if kindIs "float64" $v -}}
{{- if ne (float64 (int64 $v)) $v -}}
{{- fail (printf "databases.postgres.migration.version %v is a number: quote it (version: \"%v\") so that 2.10 does not become 2.1" $v $v) -}}
{{- end -}}
{{- printf "%d" (int64 $v) -}}
{{- else -}}
{{- $s := toString $v -}}
{{- if or (not (regexMatch "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$" $s)) (contains ".." $s) -}}
{{- fail (printf "databases.postgres.migration.version %q is not a valid version: use letters, digits, \".\", \"_\" and \"-\" (max 63, no \"..\"), e.g. 2.0.0" $s) -}}
{{- end -}}
{{- $s -}}
{{- end -}}
{{- end -}}

{{/*
"<release>-postgres-migration-<version>": lowercase, other characters become "-", at most 57
characters so the pods' generated names fit in 63 (same rule as migrationJobName in
src/core/migrate/version.ts). "2.0.0" stays "2.0.0".
*/}}
{{- define "pyairtable-stack.postgres.migration.name" -}}
{{- $v := include "pyairtable-stack.postgres.migration.version" . -}}
{{- $suffix := regexReplaceAll "[^a-z0-9.-]" (lower $v) "-" | trimAll "-." -}}
{{- $name := printf "%s-migration-%s" (include "pyairtable-stack.postgres.fullname" .) $suffix | trunc 57 -}}
{{- regexReplaceAll "[-.]+$" $name "" -}}
{{- end -}}

