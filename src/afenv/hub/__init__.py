"""From validated pairs to a hub: what a pair is (pairs), the registry push (push), and the
zero-to-jupyterhub and DockerSpawner profiles (profiles)."""
