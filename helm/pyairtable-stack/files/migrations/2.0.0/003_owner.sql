-- 2.0.0 "Add user management tables" (3/3): migrations run as the superuser, so hand the new
-- tables (and their identity sequences) to the owner of this database, the application role.
DO $$
DECLARE
  app_owner name := (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database());
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'roles', 'user_roles'] LOOP
    EXECUTE format('ALTER TABLE %I OWNER TO %I', t, app_owner);
  END LOOP;
END
$$;
