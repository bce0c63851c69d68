{{/*
Cross-field rules values.schema.json cannot express. Each helper fails with the key at fault and
what to set; `pyairtable-stack.postgres.validateValues` runs them all (from NOTES.txt and the Secret).
*/}}

{{/*
restore.enabled runs one kind of restore: a logical one of backupFile, or the whole cluster to
targetTime or to the last archived commit (latest), which replays the WAL archive of pitr.
*/}}
{{- define "pyairtable-stack.postgres.validateValues.restore" -}}
{{- $r := .Values.databases.postgres.restore -}}
{{- $set := list -}}
{{- if $r.backupFile }}{{ $set = append $set "backupFile" }}{{ end -}}
{{- if $r.targetTime }}{{ $set = append $set "targetTime" }}{{ end -}}
{{- if $r.latest }}{{ $set = append $set "latest" }}{{ end -}}
{{- if and $r.enabled (not $set) -}}
{{- fail "databases.postgres.restore.enabled is true but none of databases.postgres.restore.backupFile, restore.targetTime or restore.latest is set: set backupFile to a file under /backups/postgres (see: ./scripts/postgres-ops.sh list-backups) or a URL, or targetTime to restore the whole cluster to a moment, e.g. --set databases.postgres.restore.backupFile=/backups/postgres/backup_20240101_020000.sql.gz or --set databases.postgres.restore.targetTime=2026-11-30T14:02:59+00:00" -}}
{{- end -}}
{{- if and $r.enabled (gt (len $set) 1) -}}
{{- fail (printf "databases.postgres.restore: set only one of backupFile, targetTime and latest (a logical restore of one file, or the whole cluster to a moment, or to the last archived commit); now set: %s. Unset the others, e.g. --set databases.postgres.restore.backupFile=\"\" --set databases.postgres.restore.targetTime=2026-11-30T14:02:59+00:00" (join ", " $set)) -}}
{{- end -}}
{{- if and $r.enabled (or $r.targetTime $r.latest) (not .Values.databases.postgres.pitr.enabled) -}}
{{- fail (printf "databases.postgres.restore.%s restores the whole cluster from the WAL archive, but databases.postgres.pitr.enabled is false: set databases.postgres.pitr.enabled=true and let it archive first: the archive must already hold the target (a physical backup from before it and the WAL up to it; ./scripts/postgres-ops.sh status prints \"Recoverable: from ... to ...\"), or restore a logical backup with databases.postgres.restore.backupFile" (ternary "targetTime" "latest" (ne $r.targetTime ""))) -}}
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

{{- define "pyairtable-stack.postgres.validateValues.timings" -}}
{{- $r := .Values.databases.postgres.replication -}}
{{- if gt (add (int $r.loopWait) (mul 2 (int $r.retryTimeout))) (int $r.ttl) -}}
{{- fail (printf "databases.postgres.replication: loopWait (%v) + 2 x retryTimeout (%v) exceeds ttl (%v): the leader could lose its lease while still retrying; raise ttl or lower loopWait/retryTimeout" $r.loopWait $r.retryTimeout $r.ttl) -}}
{{- end -}}
{{- end -}}

{{/*
Settings postgres-agent or Patroni own (paths, ports, replication wiring, TLS, the bound on slot
WAL): a value here would break them. Kept equal to src/core/ha/patroni-config.ts
PATRONI_OWNED_PARAMETERS plus AGENT_OWNED_PARAMETERS, and CLUSTER_WIDE_MINIMUMS
(test/chart/contract.test.ts checks it).
*/}}
{{- define "pyairtable-stack.postgres.validateValues.parameters" -}}
{{- $managed := list "data_directory" "hba_file" "ident_file" "config_file" "port" "listen_addresses" "unix_socket_directories" "ssl" "ssl_cert_file" "ssl_key_file" "primary_conninfo" "primary_slot_name" "hot_standby" "wal_level" "max_slot_wal_keep_size" "password_encryption" "logging_collector" "log_destination" "archive_mode" "archive_command" "archive_timeout" "restore_command" "recovery_target_timeline" "cluster_name" "wal_log_hints" "synchronous_standby_names" "include" "include_dir" "include_if_exists" -}}
{{- range $name, $value := .Values.databases.postgres.postgresql.parameters -}}
{{- if has $name $managed -}}
{{- fail (printf "databases.postgres.postgresql.parameters.%s is set by postgres-agent and cannot be overridden: remove it (see docs/chart.md; max_slot_wal_keep_size is databases.postgres.postgresql.maxSlotWalKeepSize, ssl is databases.postgres.tls, archive_timeout is databases.postgres.pitr.archiveTimeoutSeconds)" $name) -}}
{{- end -}}
{{- if and (has $name (list "max_wal_senders" "max_replication_slots")) (lt (int64 (toString $value)) 10) -}}
{{- fail (printf "databases.postgres.postgresql.parameters.%s is %v: replicas and backups need at least 10; raise it or remove it" $name $value) -}}
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

{{/* With TLS on, an extra pg_hba line must not let a client in without it. */}}
{{- define "pyairtable-stack.postgres.validateValues.tlsHba" -}}
{{- if .Values.databases.postgres.tls.enabled -}}
{{- range $i, $line := .Values.databases.postgres.postgresql.extraHba -}}
{{- $type := first (splitList " " (regexReplaceAll "\\s+" (trim $line) " ")) -}}
{{- if has $type (list "host" "hostnossl") -}}
{{- fail (printf "databases.postgres.postgresql.extraHba[%d] is a %s line while databases.postgres.tls.enabled is true: it would let clients in without TLS; write it as hostssl (\"%s\")" $i $type $line) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
What an upgrade cannot do, said before Kubernetes refuses it halfway (checked against the cluster
with lookup; helm template cannot look up and skips these).
*/}}
{{- define "pyairtable-stack.postgres.validateValues.upgrade" -}}
{{- $pg := .Values.databases.postgres -}}
{{- $fn := include "pyairtable-stack.postgres.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- $doc := "docs/operations.md, \"Upgrading a release installed with two StatefulSets\"" -}}
{{- if and $pg.enabled $pg.replication.enabled (lookup "apps/v1" "StatefulSet" $ns (printf "%s-replica" $fn)) -}}
{{- fail (printf "release %s still runs its replicas in StatefulSet %s-replica (chart versions before Patroni): upgrade once with --set databases.postgres.replication.enabled=false so that %s-0 becomes the leader of the new cluster, then enable the replicas again (%s)" .Release.Name $fn $fn $doc) -}}
{{- end -}}
{{- $svc := lookup "v1" "Service" $ns $fn -}}
{{- $ep := lookup "v1" "Endpoints" $ns $fn -}}
{{- if and $pg.enabled $svc (($svc.spec | default dict).selector) $ep (ne (index (($ep.metadata.annotations) | default dict) "meta.helm.sh/release-name" | default "") .Release.Name) -}}
{{- fail (printf "the read-write Service %s now routes to the member Patroni records as leader, through the Endpoints of the same name, which Kubernetes created for the old Service: hand them to this release first: kubectl annotate endpoints -n %s %s meta.helm.sh/release-name=%s meta.helm.sh/release-namespace=%s (%s)" $fn $ns $fn .Release.Name $ns $doc) -}}
{{- end -}}
{{- $sts := lookup "apps/v1" "StatefulSet" $ns $fn -}}
{{- if and $pg.enabled $sts -}}
{{- $claim := first (($sts.spec | default dict).volumeClaimTemplates | default (list dict)) | default dict -}}
{{- $spec := $claim.spec | default dict -}}
{{- $size := ((($spec.resources | default dict).requests | default dict).storage) | default "" -}}
{{- if and $size (ne (toString $size) (toString $pg.persistence.size)) -}}
{{- fail (printf "databases.postgres.persistence.size is %v but StatefulSet %s creates volumes of %v, and Kubernetes never lets an upgrade change that: keep persistence.size at %v and grow the volumes with kubectl patch pvc (docs/operations.md, \"Storage\", also explains how new members get the new size)" $pg.persistence.size $fn $size $size) -}}
{{- end -}}
{{- if and $spec.storageClassName (ne $spec.storageClassName $pg.persistence.storageClass) -}}
{{- fail (printf "databases.postgres.persistence.storageClass is %s but StatefulSet %s creates volumes of class %s, and Kubernetes never lets an upgrade change that: keep persistence.storageClass at %s (moving to another class is a backup and restore into a new release, docs/operations.md)" $pg.persistence.storageClass $fn $spec.storageClassName $spec.storageClassName) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "pyairtable-stack.postgres.validateValues" -}}
{{- include "pyairtable-stack.postgres.validateValues.timings" . -}}
{{- include "pyairtable-stack.postgres.validateValues.tlsHba" . -}}
{{- include "pyairtable-stack.postgres.validateValues.upgrade" . -}}
{{- include "pyairtable-stack.postgres.validateValues.hba" . -}}
{{- include "pyairtable-stack.postgres.validateValues.parameters" . -}}
{{- include "pyairtable-stack.postgres.validateValues.restore" . -}}
{{- include "pyairtable-stack.postgres.validateValues.crossRegion" . -}}
{{- include "pyairtable-stack.postgres.validateValues.migration" . -}}
{{- include "pyairtable-stack.postgres.validateValues.tls" . -}}
{{- include "pyairtable-stack.postgres.validateValues.snapshots" . -}}
{{- include "pyairtable-stack.postgres.validateValues.replication" . -}}
{{- end -}}
