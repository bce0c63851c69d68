{{/*
Cross-field rules values.schema.json cannot express. Each helper fails with the key at fault and
what to set; `pyairtable-stack.postgres.validateValues` runs them all (from NOTES.txt and the Secret).
*/}}

{{- define "pyairtable-stack.postgres.validateValues.restore" -}}
{{- $r := .Values.databases.postgres.restore -}}
{{- if and $r.enabled (not $r.backupFile) -}}
{{- fail "databases.postgres.restore.enabled is true but databases.postgres.restore.backupFile is empty: set it to a file under /backups/postgres (see: ./scripts/postgres-ops.sh list-backups) or a URL, e.g. --set databases.postgres.restore.backupFile=/backups/postgres/backup_20240101_020000.sql.gz" -}}
{{- end -}}
{{- end -}}

{{- define "pyairtable-stack.postgres.validateValues.crossRegion" -}}
{{- $c := .Values.databases.postgres.crossRegion -}}
{{- if and $c.enabled (not $c.bucket) -}}
{{- fail "databases.postgres.crossRegion.enabled is true but databases.postgres.crossRegion.bucket is empty: set the bucket (GCS, S3) or container (Azure) to copy backups to" -}}
{{- end -}}
{{- if and $c.enabled (eq $c.provider "azure") (not $c.credentialsSecret) -}}
{{- fail "databases.postgres.crossRegion.provider is azure but databases.postgres.crossRegion.credentialsSecret is empty: create a Secret with key AZURE_STORAGE_CONNECTION_STRING and set its name" -}}
{{- end -}}
{{- if and $c.enabled (not .Values.databases.postgres.backup.enabled) -}}
{{- fail "databases.postgres.crossRegion.enabled needs databases.postgres.backup.enabled=true: it copies the backups that job writes" -}}
{{- end -}}
{{- end -}}

{{- define "pyairtable-stack.postgres.validateValues.migration" -}}
{{- $m := .Values.databases.postgres.migration -}}
{{- if and $m.enabled (not $m.version) -}}
{{- fail "databases.postgres.migration.enabled is true but databases.postgres.migration.version is empty: set the version to apply, e.g. --set databases.postgres.migration.version=2.0.0" -}}
{{- end -}}
{{- end -}}

{{- define "pyairtable-stack.postgres.validateValues.tls" -}}
{{- $t := .Values.databases.postgres.tls -}}
{{- if and $t.enabled (not $t.existingSecret) -}}
{{- fail "databases.postgres.tls.enabled is true but databases.postgres.tls.existingSecret is empty: create a kubernetes.io/tls Secret (tls.crt, tls.key) and set its name" -}}
{{- end -}}
{{- end -}}

{{- define "pyairtable-stack.postgres.validateValues.snapshots" -}}
{{- $s := .Values.databases.postgres.snapshots -}}
{{- if and $s.enabled (not $s.volumeSnapshotClass) -}}
{{- fail "databases.postgres.snapshots.enabled is true but databases.postgres.snapshots.volumeSnapshotClass is empty: name the VolumeSnapshotClass to use" -}}
{{- end -}}
{{- end -}}

{{- define "pyairtable-stack.postgres.validateValues.replication" -}}
{{- $pg := .Values.databases.postgres -}}
{{- if and $pg.replication.enabled (lt (int $pg.replication.replicas) 1) -}}
{{- fail "databases.postgres.replication.replicas must be at least 1 when databases.postgres.replication.enabled is true" -}}
{{- end -}}
{{- end -}}

{{/* Settings postgres-agent owns (paths, ports, replication wiring): a value here would break it. */}}
{{- define "pyairtable-stack.postgres.validateValues.parameters" -}}
{{- $managed := list "data_directory" "hba_file" "ident_file" "config_file" "port" "listen_addresses" "unix_socket_directories" "ssl" "ssl_cert_file" "ssl_key_file" "primary_conninfo" "primary_slot_name" "hot_standby" "wal_level" "max_slot_wal_keep_size" "password_encryption" "logging_collector" "log_destination" "recovery_target_timeline" "include" "include_dir" "include_if_exists" -}}
{{- range $name, $_ := .Values.databases.postgres.postgresql.parameters -}}
{{- if has $name $managed -}}
{{- fail (printf "databases.postgres.postgresql.parameters.%s is set by postgres-agent and cannot be overridden: remove it (see docs/chart.md; max_slot_wal_keep_size is databases.postgres.postgresql.maxSlotWalKeepSize, ssl is databases.postgres.tls)" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Password-less or weak methods are refused by postgres-agent at start; refuse them at install. */}}
{{- define "pyairtable-stack.postgres.validateValues.hba" -}}
{{- range $i, $line := .Values.databases.postgres.postgresql.extraHba -}}
{{- range $token := splitList " " (regexReplaceAll "\\s+" $line " ") -}}
{{- if has (lower $token) (list "trust" "password" "md5") -}}
{{- fail (printf "databases.postgres.postgresql.extraHba[%d] uses %s: only scram-sha-256, peer, cert or reject are allowed (\"%s\")" $i $token $line) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "pyairtable-stack.postgres.validateValues" -}}
{{- include "pyairtable-stack.postgres.validateValues.hba" . -}}
{{- include "pyairtable-stack.postgres.validateValues.parameters" . -}}
{{- include "pyairtable-stack.postgres.validateValues.restore" . -}}
{{- include "pyairtable-stack.postgres.validateValues.crossRegion" . -}}
{{- include "pyairtable-stack.postgres.validateValues.migration" . -}}
{{- include "pyairtable-stack.postgres.validateValues.tls" . -}}
{{- include "pyairtable-stack.postgres.validateValues.snapshots" . -}}
{{- include "pyairtable-stack.postgres.validateValues.replication" . -}}
{{- end -}}
