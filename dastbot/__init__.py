"""dastbot: a Mattermost support bot for grid-computing user forums."""

__version__ = "0.1.0"
