{{/*
Helpers shared by every PostgreSQL component (primary, replicas, jobs). Monitoring and migration
templates use them too, so keep their names and outputs stable.
*/}}

{{/* Image of PostgreSQL + postgres-agent; the tag defaults to the chart's appVersion. */}}
{{- define "pyairtable-stack.postgres.image" -}}
{{- $img := .Values.databases.postgres.image -}}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}

{{/* Name of the Secret holding the passwords (generated or existing). */}}
{{- define "pyairtable-stack.postgres.secretName" -}}
{{- default (include "pyairtable-stack.postgres.fullname" .) .Values.databases.postgres.auth.existingSecret -}}
{{- end -}}

{{/* Read-write Service DNS name (selects the primary only). */}}
{{- define "pyairtable-stack.postgres.primaryHost" -}}
{{- printf "%s.%s.svc.%s" (include "pyairtable-stack.postgres.fullname" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{- define "pyairtable-stack.postgres.replicaFullname" -}}
{{- printf "%s-replica" (include "pyairtable-stack.postgres.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Data PVC of the primary, as the guide's `kubectl patch pvc` names it. */}}
{{- define "pyairtable-stack.postgres.dataPvc" -}}
{{- printf "postgres-storage-%s-0" (include "pyairtable-stack.postgres.fullname" .) -}}
{{- end -}}

{{- define "pyairtable-stack.postgres.backupPvc" -}}
{{- printf "%s-backup-pvc" (include "pyairtable-stack.postgres.fullname" .) -}}
{{- end -}}

{{/* The backup volume exists whenever something writes or reads /backups. */}}
{{- define "pyairtable-stack.postgres.backupVolumeEnabled" -}}
{{- $pg := .Values.databases.postgres -}}
{{- if or $pg.backup.enabled $pg.restore.enabled $pg.migration.enabled $pg.crossRegion.enabled -}}true{{- end -}}
{{- end -}}

{{/* Stable DNS names (host:port) of the primary pod and of each replica pod, for fencing. */}}
{{- define "pyairtable-stack.postgres.primaryPeer" -}}
{{- $full := include "pyairtable-stack.postgres.fullname" . -}}
{{- printf "%s-0.%s-hl.%s.svc.%s:5432" $full $full .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{- define "pyairtable-stack.postgres.replicaPeers" -}}
{{- $full := include "pyairtable-stack.postgres.replicaFullname" . -}}
{{- $peers := list -}}
{{- if .Values.databases.postgres.replication.enabled -}}
{{- range $i := until (int .Values.databases.postgres.replication.replicas) -}}
{{- $peers = append $peers (printf "%s-%d.%s-hl.%s.svc.%s:5432" $full $i $full $.Release.Namespace $.Values.clusterDomain) -}}
{{- end -}}
{{- end -}}
{{- join "," $peers -}}
{{- end -}}

{{/*
Environment every postgres-agent container gets (names from src/core/config/schema.ts), so that
`kubectl exec ... postgres-agent <command>` behaves the same in any pod.
Call with (dict "ctx" $ "host" "<host the commands connect to>").
*/}}
{{- define "pyairtable-stack.postgres.agentEnv" -}}
{{- $ctx := .ctx -}}
{{- $pg := $ctx.Values.databases.postgres -}}
- name: PGDATA
  value: /var/lib/postgresql/data/pgdata
- name: PGOPS_RELEASE
  value: {{ include "pyairtable-stack.fullname" $ctx | quote }}
- name: PGOPS_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: PGOPS_POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: PGOPS_LOG_FORMAT
  value: {{ $pg.logFormat | quote }}
- name: PGOPS_PORT
  value: "5432"
- name: PGOPS_HOST
  value: {{ .host | quote }}
- name: PGOPS_SUPERUSER
  value: postgres
- name: PGOPS_SUPERUSER_PASSWORD_FILE
  value: /etc/pgops/secrets/superuser-password
- name: PGOPS_REPLICATION_USER
  value: replicator
- name: PGOPS_REPLICATION_PASSWORD_FILE
  value: /etc/pgops/secrets/replication-password
- name: PGOPS_APP_USER
  value: {{ $pg.username | quote }}
- name: PGOPS_APP_PASSWORD_FILE
  value: /etc/pgops/secrets/password
- name: PGOPS_APP_DATABASE
  value: {{ $pg.database | quote }}
- name: PGOPS_BACKUP_DIR
  value: /backups/postgres
- name: PGOPS_BACKUP_RETENTION_DAYS
  value: {{ $pg.backup.retentionDays | quote }}
- name: PGOPS_BACKUP_DATABASES
  value: {{ join "," $pg.backup.databases | quote }}
- name: PGOPS_BACKUP_COMPRESSION
  value: {{ $pg.backup.compression | quote }}
- name: PGOPS_BACKUP_JOBS
  value: {{ $pg.backup.jobs | quote }}
- name: PGOPS_BACKUP_DEEP_VERIFY
  value: {{ $pg.backup.deepVerify | quote }}
{{- if $pg.snapshots.enabled }}
- name: PGOPS_SNAPSHOT_PVC
  value: {{ include "pyairtable-stack.postgres.dataPvc" $ctx | quote }}
- name: PGOPS_SNAPSHOT_CLASS
  value: {{ $pg.snapshots.volumeSnapshotClass | quote }}
- name: PGOPS_SNAPSHOT_RETENTION_COUNT
  value: {{ $pg.snapshots.retentionCount | quote }}
- name: PGOPS_SNAPSHOT_TIMEOUT_SECONDS
  value: {{ $pg.snapshots.timeoutSeconds | quote }}
{{- end }}
{{- end -}}

{{/*
Passwords as files (never env values). Keys are renamed to fixed file names so an existing Secret
with other key names works the same.
*/}}
{{- define "pyairtable-stack.postgres.secretVolume" -}}
- name: secrets
  secret:
    secretName: {{ include "pyairtable-stack.postgres.secretName" . }}
    defaultMode: 0440
    items:
      - key: {{ .Values.databases.postgres.auth.superuserPasswordKey }}
        path: superuser-password
      - key: {{ .Values.databases.postgres.auth.replicationPasswordKey }}
        path: replication-password
      - key: {{ .Values.databases.postgres.auth.passwordKey }}
        path: password
{{- end -}}

{{- define "pyairtable-stack.postgres.secretMount" -}}
- name: secrets
  mountPath: /etc/pgops/secrets
  readOnly: true
{{- end -}}

{{- define "pyairtable-stack.postgres.backupVolume" -}}
- name: backups
  persistentVolumeClaim:
    claimName: {{ include "pyairtable-stack.postgres.backupPvc" . }}
{{- end -}}

{{- define "pyairtable-stack.postgres.backupMount" -}}
- name: backups
  mountPath: /backups
{{- end -}}

{{/* Writable scratch space; the root filesystem is read-only. */}}
{{- define "pyairtable-stack.postgres.tmpVolume" -}}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "pyairtable-stack.postgres.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Pod Security "restricted": uid 999 is the official postgres image's postgres user. */}}
{{- define "pyairtable-stack.postgres.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 999
runAsGroup: 999
fsGroup: 999
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "pyairtable-stack.postgres.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 999
runAsGroup: 999
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The backup PVC is ReadWriteOnce: a pod that mounts it must run on the primary's node.
*/}}
{{- define "pyairtable-stack.postgres.jobAffinity" -}}
podAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "pyairtable-stack.postgres.selectorLabels" (dict "ctx" . "component" "postgres-primary") | nindent 10 }}
{{- end -}}

{{/* Scheduling and pod-level settings shared by the job pods. */}}
{{- define "pyairtable-stack.postgres.jobPodSpec" -}}
{{- $pg := .Values.databases.postgres -}}
restartPolicy: Never
securityContext:
  {{- include "pyairtable-stack.postgres.podSecurityContext" . | nindent 2 }}
{{- with $pg.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- with $pg.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $pg.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
Object-store settings and credentials (sync CronJob; restore Job for s3:// gs:// azure:// URLs).
Credentials come from crossRegion.credentialsSecret by reference, or from workload identity.
*/}}
{{- define "pyairtable-stack.postgres.objectStoreEnv" -}}
{{- $c := .Values.databases.postgres.crossRegion -}}
- name: PGOPS_SYNC_PROVIDER
  value: {{ $c.provider | quote }}
- name: PGOPS_SYNC_BUCKET
  value: {{ $c.bucket | quote }}
- name: PGOPS_SYNC_PREFIX
  value: {{ $c.prefix | quote }}
{{- with $c.endpoint }}
- name: PGOPS_SYNC_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with $c.region }}
- name: PGOPS_SYNC_REGION
  value: {{ . | quote }}
{{- end }}
- name: PGOPS_SYNC_RETENTION_DAYS
  value: {{ $c.retentionDays | quote }}
{{- if $c.credentialsSecret }}
{{- if eq $c.provider "s3" }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ $c.credentialsSecret }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $c.credentialsSecret }}
      key: AWS_SECRET_ACCESS_KEY
{{- else if eq $c.provider "gcs" }}
- name: GOOGLE_APPLICATION_CREDENTIALS
  value: /etc/pgops/cloud/credentials.json
{{- else if eq $c.provider "azure" }}
- name: AZURE_STORAGE_CONNECTION_STRING
  valueFrom:
    secretKeyRef:
      name: {{ $c.credentialsSecret }}
      key: AZURE_STORAGE_CONNECTION_STRING
{{- end }}
{{- end }}
{{- end -}}

{{/* GCS key file mount (only gcs with a credentials Secret mounts a file). */}}
{{- define "pyairtable-stack.postgres.objectStoreMount" -}}
{{- $c := .Values.databases.postgres.crossRegion -}}
{{- if and $c.credentialsSecret (eq $c.provider "gcs") }}
- name: cloud-credentials
  mountPath: /etc/pgops/cloud
  readOnly: true
{{- end }}
{{- end -}}

{{- define "pyairtable-stack.postgres.objectStoreVolume" -}}
{{- $c := .Values.databases.postgres.crossRegion -}}
{{- if and $c.credentialsSecret (eq $c.provider "gcs") }}
- name: cloud-credentials
  secret:
    secretName: {{ $c.credentialsSecret }}
    defaultMode: 0440
    items:
      - key: credentials.json
        path: credentials.json
{{- end }}
{{- end -}}
