{{/*
Helpers shared by every PostgreSQL component (members, jobs, monitoring). Monitoring and migration
templates use them too, so keep their names and outputs stable.
*/}}

{{/* Image of PostgreSQL + Patroni + postgres-agent; the tag defaults to the chart's appVersion. */}}
{{- define "pyairtable-stack.postgres.image" -}}
{{- $img := .Values.databases.postgres.image -}}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) -}}
{{- end -}}

{{/*
How every container of the image starts postgres-agent: tini as PID 1 reaps what PostgreSQL's
processes leave behind and passes signals on.
*/}}
{{- define "pyairtable-stack.postgres.agentCommand" -}}
command: ["tini", "--", "postgres-agent"]
{{- end -}}

{{/* Name of the Secret holding the passwords (generated or existing). */}}
{{- define "pyairtable-stack.postgres.secretName" -}}
{{- default (include "pyairtable-stack.postgres.fullname" .) .Values.databases.postgres.auth.existingSecret -}}
{{- end -}}

{{/*
Patroni's scope: the cluster name, and the name of the leader Endpoints and of the read-write
Service that routes to them. Same as the StatefulSet's name.
*/}}
{{- define "pyairtable-stack.postgres.scope" -}}
{{- include "pyairtable-stack.postgres.fullname" . -}}
{{- end -}}

{{/* Read-write Service DNS name (whichever member leads, as Patroni records it). */}}
{{- define "pyairtable-stack.postgres.primaryHost" -}}
{{- printf "%s.%s.svc.%s" (include "pyairtable-stack.postgres.fullname" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* Number of members: the first, plus replication.replicas when replication is enabled. */}}
{{- define "pyairtable-stack.postgres.members" -}}
{{- $r := .Values.databases.postgres.replication -}}
{{- add 1 (ternary (int $r.replicas) 0 $r.enabled) -}}
{{- end -}}

{{/* Data PVC of the first member, as the guide's `kubectl patch pvc` names it. */}}
{{- define "pyairtable-stack.postgres.dataPvc" -}}
{{- printf "postgres-storage-%s-0" (include "pyairtable-stack.postgres.fullname" .) -}}
{{- end -}}

{{- define "pyairtable-stack.postgres.backupPvc" -}}
{{- printf "%s-backup-pvc" (include "pyairtable-stack.postgres.fullname" .) -}}
{{- end -}}

{{/* The backup volume exists whenever something writes or reads /backups. */}}
{{- define "pyairtable-stack.postgres.backupVolumeEnabled" -}}
{{- $pg := .Values.databases.postgres -}}
{{- if or $pg.backup.enabled (and $pg.restore.enabled $pg.restore.backupFile) $pg.migration.enabled $pg.crossRegion.enabled -}}true{{- end -}}
{{- end -}}

{{/*
Labels of every member pod. The component stays "postgres-primary" on all members: it is part of
the StatefulSet's selector, which Kubernetes never lets an upgrade change. The role of a member is
the label Patroni writes (roleLabel).
*/}}
{{- define "pyairtable-stack.postgres.memberSelectorLabels" -}}
{{ include "pyairtable-stack.postgres.selectorLabels" (dict "ctx" . "component" "postgres-primary") }}
{{- end -}}

{{/*
What Patroni selects its objects by (PGOPS_K8S_LABELS plus the scope label it adds), beyond the
name and instance labels every object carries: on the member pods and on the leader Endpoints.
*/}}
{{- define "pyairtable-stack.postgres.patroniLabels" -}}
pyairtable-stack/postgres-server: "true"
{{ include "pyairtable-stack.postgres.scopeLabel" . }}: {{ include "pyairtable-stack.postgres.scope" . }}
{{- end -}}

{{/* Label keys Patroni writes: the member's role (master, replica) and the cluster it belongs to. */}}
{{- define "pyairtable-stack.postgres.roleLabel" -}}pyairtable-stack/role{{- end -}}
{{- define "pyairtable-stack.postgres.scopeLabel" -}}pyairtable-stack/cluster{{- end -}}

{{/*
Environment common to the jobs that talk to PostgreSQL over the read-write Service (names from
src/core/config/schema.ts). Settings of one job (backup retention, snapshot class, ...) are added by
that job only, so changing them touches nothing else.
*/}}
{{- define "pyairtable-stack.postgres.jobEnv" -}}
{{- $pg := .Values.databases.postgres -}}
- name: PGOPS_RELEASE
  value: {{ include "pyairtable-stack.fullname" . | quote }}
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
- name: PGOPS_HOST
  value: {{ include "pyairtable-stack.postgres.primaryHost" . | quote }}
- name: PGOPS_PORT
  value: "5432"
- name: PGOPS_SSLMODE
  value: {{ ternary "require" "prefer" $pg.tls.enabled | quote }}
- name: PGOPS_SUPERUSER
  value: postgres
- name: PGOPS_SUPERUSER_PASSWORD_FILE
  value: /etc/pgops/secrets/superuser-password
- name: PGOPS_APP_USER
  value: {{ $pg.username | quote }}
- name: PGOPS_APP_DATABASE
  value: {{ $pg.database | quote }}
{{- end -}}

{{/* Where backups are written and how (backup CronJob, and the safety backups of restore and migrate). */}}
{{- define "pyairtable-stack.postgres.backupEnv" -}}
{{- $b := .Values.databases.postgres.backup -}}
- name: PGOPS_BACKUP_DIR
  value: /backups/postgres
- name: PGOPS_BACKUP_RETENTION_DAYS
  value: {{ $b.retentionDays | quote }}
- name: PGOPS_BACKUP_DATABASES
  value: {{ join "," $b.databases | quote }}
- name: PGOPS_BACKUP_COMPRESSION
  value: {{ $b.compression | quote }}
- name: PGOPS_BACKUP_JOBS
  value: {{ $b.jobs | quote }}
- name: PGOPS_BACKUP_DEEP_VERIFY
  value: {{ $b.deepVerify | quote }}
{{- end -}}

{{/*
Passwords as files (never env values). Keys are renamed to fixed file names so an existing Secret
with other key names works the same. Call with (dict "ctx" $ "keys" (list "superuser" ...)): a pod
gets only the passwords it uses.
*/}}
{{- define "pyairtable-stack.postgres.secretVolume" -}}
{{- $a := .ctx.Values.databases.postgres.auth -}}
{{- $files := dict "superuser" (list $a.superuserPasswordKey "superuser-password") "replication" (list $a.replicationPasswordKey "replication-password") "app" (list $a.passwordKey "password") "restapi" (list $a.restapiPasswordKey "restapi-password") "monitor" (list $a.monitorPasswordKey "monitor-password") -}}
- name: secrets
  secret:
    secretName: {{ include "pyairtable-stack.postgres.secretName" .ctx }}
    defaultMode: 0440
    items:
      {{- range $k := .keys }}
      {{- $f := index $files $k }}
      - key: {{ index $f 0 }}
        path: {{ index $f 1 }}
      {{- end }}
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

{{/* Pod Security "restricted": uid 999 is the image's postgres user. */}}
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
Scheduling and pod-level settings shared by the job pods. Jobs reach PostgreSQL over the network
(the read-write Service): they follow no member, so they never wait for one that moved.
*/}}
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

{{/* Point-in-time recovery: the Secret with pgBackRest's CA, certificate and key. */}}
{{- define "pyairtable-stack.postgres.pgbackrestTlsSecret" -}}
{{- default (printf "%s-pgbackrest-tls" (include "pyairtable-stack.postgres.fullname" .)) .Values.databases.postgres.pitr.tls.existingSecret -}}
{{- end -}}

{{/* The repository pod (repo1 on its volume, pgBackRest's TLS server) and its stable DNS name. */}}
{{- define "pyairtable-stack.postgres.repoName" -}}
{{- printf "%s-repo" (include "pyairtable-stack.postgres.fullname" .) -}}
{{- end -}}

{{- define "pyairtable-stack.postgres.repoHost" -}}
{{- $r := include "pyairtable-stack.postgres.repoName" . -}}
{{- printf "%s-0.%s.%s.svc.%s" $r $r .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* Every member's stable DNS name, comma-separated: pgBackRest backs up whichever is the primary. */}}
{{- define "pyairtable-stack.postgres.memberHosts" -}}
{{- $fn := include "pyairtable-stack.postgres.fullname" . -}}
{{- $hosts := list -}}
{{- range $i := until (int (include "pyairtable-stack.postgres.members" .)) -}}
{{- $hosts = append $hosts (printf "%s-%d.%s-hl.%s.svc.%s" $fn $i $fn $.Release.Namespace $.Values.clusterDomain) -}}
{{- end -}}
{{- join "," $hosts -}}
{{- end -}}

{{/*
pgBackRest settings of the members and of the repository pod. Schedules and retention are not
here: the members never read them, so changing them restarts no member.
*/}}
{{- define "pyairtable-stack.postgres.pitrEnv" -}}
{{- $p := .Values.databases.postgres.pitr -}}
- name: PGOPS_PITR
  value: "true"
- name: PGOPS_PGBACKREST_STANZA
  value: db
- name: PGOPS_PGBACKREST_TLS_DIR
  value: /etc/pgops/pgbackrest-tls
- name: PGOPS_PGBACKREST_TLS_PORT
  value: "8432"
- name: PGOPS_PGBACKREST_TLS_CLIENT_CN
  value: pgbackrest-client
- name: PGOPS_PGBACKREST_PROCESS_MAX
  value: {{ $p.processMax | quote }}
{{- if $p.repo2 }}
# repo2: the object store and credentials of crossRegion.
- name: PGOPS_PGBACKREST_REPO2
  value: "true"
{{ include "pyairtable-stack.postgres.objectStoreEnv" . }}
{{- end }}
{{- end -}}

{{- define "pyairtable-stack.postgres.pgbackrestTlsMount" -}}
- name: pgbackrest-tls
  mountPath: /etc/pgops/pgbackrest-tls
  readOnly: true
{{- end -}}

{{- define "pyairtable-stack.postgres.pgbackrestTlsVolume" -}}
- name: pgbackrest-tls
  secret:
    secretName: {{ include "pyairtable-stack.postgres.pgbackrestTlsSecret" . }}
    defaultMode: 0440
    items:
      - key: ca.crt
        path: ca.crt
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- end -}}
